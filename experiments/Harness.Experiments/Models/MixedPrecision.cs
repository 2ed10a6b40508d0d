using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>
/// <c>training.dtype: mixed</c> as PyTorch's autocast runs <c>linear</c>: the matmul runs in the compute dtype (bf16) on
/// casts of the input, the weight and the bias, and returns that dtype; gradients flow back through the casts to the
/// fp32 parameters. Shared by every layer that multiplies (LLaMA's projections and tied head, GPT-2's dense layers and
/// tied head), and <see cref="ComputeIn"/> switches a whole model.
/// </summary>
internal static class MixedPrecision
{
    /// <summary><c>F.linear</c> in <paramref name="compute"/> (null or the weight's own dtype: plain <c>F.linear</c>).</summary>
    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias, ScalarType? compute)
    {
        if (compute is not { } dtype || dtype == weight.dtype) return nn.functional.linear(input, weight, bias);
        using var scope = NewDisposeScope();
        return nn.functional.linear(input.to_type(dtype), weight.to_type(dtype), bias?.to_type(dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// A layer's linear while training through <paramref name="route"/> (the FORGE or per-layer driver's function; null:
    /// <see cref="Linear"/>). The route gets the input cast to <paramref name="compute"/> and the fp32 weight and casts
    /// inside its function; a bias is added outside the route, so its gradient takes the ordinary autograd path.
    /// </summary>
    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias, ScalarType? compute, ILinearRoute? route, string weightName)
    {
        if (route is null) return Linear(input, weight, bias, compute);
        using var scope = NewDisposeScope();
        var x = compute is { } dtype && dtype != weight.dtype ? input.to_type(dtype) : input;
        var y = route.Linear(x, weight, weightName);
        if (bias is not null) y = y + (bias.dtype == y.dtype ? bias : bias.to_type(y.dtype));
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>Sets the compute dtype of <paramref name="root"/> and of every module under it that multiplies (null restores the weights' dtype).</summary>
    public static void ComputeIn(nn.Module root, ScalarType? compute)
    {
        if (root is IComputeDType self) self.ComputeDType = compute;
        foreach (var (_, module) in root.named_modules())
            if (module is IComputeDType layer) layer.ComputeDType = compute;
    }
}
