using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace Harness.Core.Running;

/// <summary>
/// <c>y = x·Wᵀ</c> whose backward returns the input gradient and no weight gradient: the weight gradient is
/// handed, slab by slab, to the layer's optimizer step (<see cref="ForgeLinearLayer"/>) and never stored
/// whole. Arguments of <c>apply</c>: input, weight, <see cref="ForgeLinearLayer"/>.
/// </summary>
public sealed class ForgeLinearFunction : SingleTensorFunction<ForgeLinearFunction>
{
    public override string Name => nameof(ForgeLinearFunction);

    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(vars);
        var (input, weight) = ((Tensor)vars[0], (Tensor)vars[1]);
        ctx.save_for_backward([input, weight]);
        ctx.save_data("layer", (ForgeLinearLayer)vars[2]);
        // training.dtype mixed: a bf16 input meets the fp32 master weight, multiplied in the input's dtype (autocast's linear).
        if (weight.dtype == input.dtype) return nn.functional.linear(input, weight);
        using var cast = weight.to_type(input.dtype);
        return nn.functional.linear(input, cast);
    }

    public override List<Tensor> backward(AutogradContext ctx, Tensor grad_output)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        using var scope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        var (input, weight) = (saved[0], saved[1]);
        var layer = (ForgeLinearLayer)ctx.get_data("layer");
        // The chain rule needs the pre-update weight: the input gradient comes first, the update after.
        var gradInput = grad_output.matmul(weight.dtype == grad_output.dtype ? weight : weight.to_type(grad_output.dtype));
        // An exception must not unwind through libtorch's native backward (it would end the process):
        // the layer keeps it and the driver rethrows once backward() has returned.
        layer.ConsumeCapturingErrors(input, grad_output);
        // TorchSharp wraps each incoming gradient in a fresh Tensor it never disposes; free ours now rather
        // than at the next garbage collection (libtorch keeps its own reference while it needs one).
        grad_output.Dispose();
        gradInput.DetachFromDisposeScope();
        layer.ReleaseReturned();
        layer.Returned.Add(gradInput);
        return [gradInput, null!, null!];
    }
}
