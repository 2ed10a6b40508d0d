using static TorchSharp.torch;

namespace Harness.Optimizers;

/// <summary>
/// Optional: what an optimizer chose from the data rather than from its options (e.g. Gefen's block
/// periods and learned codebook), so a golden-trace check can compare the choices themselves and not only
/// the parameters they lead to. Names follow the golden files: a choice map's key is the manifest field
/// (<c>gefen_periods</c>), a tensor's key is the tensor name in the reference trace (<c>gefen.codebook</c>).
/// </summary>
public interface IOptimizerDiagnostics
{
    /// <summary>Per-parameter integer choices by diagnostic name, then parameter name. Empty before the first step.</summary>
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>> ParameterChoices { get; }

    /// <summary>Tensors derived from the data by name; live tensors (do not mutate or dispose). Empty before the first step.</summary>
    IReadOnlyDictionary<string, Tensor> DerivedTensors { get; }

    /// <summary>
    /// The closed-form state size given the data-dependent choices above (equal to <see cref="IOptimizer.StateBytes"/>
    /// when the formula is right), for optimizers whose catalog formula needs the first gradients to evaluate.
    /// </summary>
    long ExpectedStateBytes { get; }
}
