using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace Harness.Core.Running;

/// <summary>
/// <c>y = x·Wᵀ</c> whose backward forms the input gradient and then the weight's whole gradient the way libtorch's
/// own linear backward does (<c>dX = dY·W</c>, <c>dW = dYᵀ·X</c> over the flattened tokens), and hands the weight
/// gradient to the weight's <see cref="PerLayerWeight"/>: on the step's last micro-batch the weight is stepped and no
/// gradient is returned for it; on an earlier one it is returned, to accumulate into <c>.grad</c>. TorchSharp 0.107
/// has no tensor hooks (<c>register_post_accumulate_grad_hook</c>), so this function plays that hook's part. It wraps
/// the whole layer, not just the weight, because TorchSharp's custom-function machinery keeps an <c>empty_like</c>
/// cache of each output until the graph is freed: here that is one activation, not a second copy of the weight.
/// Arguments of <c>apply</c>: input, weight, <see cref="PerLayerWeight"/>.
/// </summary>
public sealed class PerLayerLinearFunction : SingleTensorFunction<PerLayerLinearFunction>
{
    public override string Name => nameof(PerLayerLinearFunction);

    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(vars);
        var (input, weight) = ((Tensor)vars[0], (Tensor)vars[1]);
        ctx.save_for_backward([input, weight]);
        ctx.save_data("weight", (PerLayerWeight)vars[2]);
        return nn.functional.linear(input, weight);
    }

    public override List<Tensor> backward(AutogradContext ctx, Tensor grad_output)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var layer = (PerLayerWeight)ctx.get_data("weight");
        layer.ReleaseReturned();
        Tensor gradInput, gradWeight;
        using (var scope = NewDisposeScope())
        {
            var saved = ctx.get_saved_variables();
            var (input, weight) = (saved[0], saved[1]);
            // libtorch's mm backward for x·Wᵀ with a row-major W: dX = dY·W, dW = dYᵀ·X (then no transpose back).
            var dy = grad_output.reshape(-1, grad_output.shape[^1]);
            gradInput = grad_output.matmul(weight).DetachFromDisposeScope();
            gradWeight = dy.t().mm(input.reshape(-1, input.shape[^1])).DetachFromDisposeScope();
        }
        // TorchSharp wraps each incoming gradient in a fresh Tensor it never disposes: free ours now.
        grad_output.Dispose();
        // An exception must not unwind through libtorch's native backward: the weight keeps it, the driver rethrows.
        var weightGradient = layer.ConsumeCapturingErrors(gradWeight);
        layer.Returned.Add(gradInput);
        if (weightGradient is not null) layer.Returned.Add(weightGradient);
        return [gradInput, weightGradient!, null!];
    }
}
