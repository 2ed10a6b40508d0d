using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace Harness.Core.Running;

/// <summary>
/// The identity on a weight, <c>W ↦ W</c> (a view, no copy), whose backward receives the weight's whole gradient
/// for the micro-batch, as libtorch's own backward of the layer computed it, and hands it to the weight's
/// <see cref="PerLayerWeight"/> (which steps the weight on the last micro-batch and then returns no gradient, or
/// returns it to accumulate into <c>.grad</c> on an earlier one). TorchSharp 0.107 has no tensor hooks
/// (<c>register_post_accumulate_grad_hook</c>), so this node in front of the layer plays that hook's part.
/// Arguments of <c>apply</c>: weight, <see cref="PerLayerWeight"/>.
/// </summary>
public sealed class PerLayerWeightFunction : SingleTensorFunction<PerLayerWeightFunction>
{
    public override string Name => nameof(PerLayerWeightFunction);

    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(vars);
        ctx.save_data("weight", (PerLayerWeight)vars[1]);
        var weight = (Tensor)vars[0];
        return weight.view_as(weight);
    }

    public override List<Tensor> backward(AutogradContext ctx, Tensor grad_output)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var weight = (PerLayerWeight)ctx.get_data("weight");
        // An exception must not unwind through libtorch's native backward: the weight keeps it, the driver rethrows.
        return [weight.ConsumeCapturingErrors(grad_output)!, null!];
    }
}
