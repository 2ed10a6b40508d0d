using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace Harness.Experiments.Models;

/// <summary>
/// Activation checkpointing of one block <c>y = f(x)</c> (TorchSharp 0.107 has no checkpoint utility): the forward
/// runs f without a graph and keeps only x; the backward runs f again with a graph from a detached copy of x and
/// backpropagates the incoming gradient through it, which leaves the block's parameter gradients in their
/// <c>.grad</c> (or hands them to FORGE's fused linear function, which the recomputed forward goes through) and returns
/// x's gradient. This is PyTorch's reentrant <c>checkpoint</c>. The recomputation repeats the forward's operations
/// on the same values, so on the CPU in float32 the gradients equal the un-checkpointed ones bit for bit; f must be
/// deterministic (the decoders here have no dropout). Arguments of <c>apply</c>: x, <see cref="Func{T, TResult}"/> f,
/// <see cref="CheckpointedBlock.Returned"/> holder.
/// </summary>
internal sealed class CheckpointedBlock : SingleTensorFunction<CheckpointedBlock>
{
    public override string Name => nameof(CheckpointedBlock);

    /// <summary>The gradient a block last returned to libtorch, freed at its next backward (not left to the finalizer).</summary>
    internal sealed class Returned : IDisposable
    {
        public Tensor? Gradient { get; set; }

        public void Dispose()
        {
            Gradient?.Dispose();
            Gradient = null;
        }
    }

    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(vars);
        var x = (Tensor)vars[0];
        ctx.save_for_backward([x]);
        ctx.save_data("block", vars[1]);
        ctx.save_data("returned", vars[2]);
        using var noGrad = no_grad();
        return ((Func<Tensor, Tensor>)vars[1])(x);
    }

    public override List<Tensor> backward(AutogradContext ctx, Tensor grad_output)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var block = (Func<Tensor, Tensor>)ctx.get_data("block");
        var returned = (Returned)ctx.get_data("returned");
        returned.Dispose();
        Tensor gradInput;
        using (var scope = NewDisposeScope())
        using (enable_grad())
        {
            var input = ctx.get_saved_variables()[0].detach().requires_grad_(true);
            var output = block(input);
            output.backward([grad_output]);
            gradInput = input.grad!.detach();
            gradInput.DetachFromDisposeScope();
        }
        // TorchSharp wraps each incoming gradient in a fresh Tensor it never disposes (see ForgeLinearFunction).
        grad_output.Dispose();
        returned.Gradient = gradInput;
        return [gradInput, null!, null!];
    }
}
