using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>
/// Replaces <c>F.linear(input, weight)</c> in a model's projections while training (set by a step driver,
/// e.g. the FORGE fused-backward driver, which updates the weight inside its backward). Models know only
/// this interface, so they stay independent of the harness.
/// </summary>
public interface ILinearRoute
{
    /// <summary>input [..., in] · weightᵀ [out, in] -> [..., out]; <paramref name="weightName"/> is the parameter's full name.</summary>
    Tensor Linear(Tensor input, Tensor weight, string weightName);
}
