using static TorchSharp.torch;

namespace Harness.Optimizers;

/// <summary>
/// Optimizers whose rule can be applied to one parameter at a time, as soon as its gradient exists
/// (what the FORGE fused-backward step driver needs).
/// </summary>
public interface IPerParameterStep
{
    /// <summary>Applies the rule to one parameter with the given gradient.</summary>
    void StepParameter(NamedParameter parameter, Tensor grad, double learningRate);
}
