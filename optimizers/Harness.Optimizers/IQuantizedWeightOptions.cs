using Harness.Optimizers.Quantization;

namespace Harness.Optimizers;

/// <summary>
/// Options of an optimizer that wants the model to store its <see cref="ParamRole.Matrix"/> weights quantized
/// (Q-GaLore's INT8 weights). The composition root asks the workload to convert them before building the optimizer;
/// each converted parameter then carries its <see cref="NamedParameter.Quantized"/> storage.
/// </summary>
public interface IQuantizedWeightOptions
{
    /// <summary>The storage format wanted, or null to keep dense weights.</summary>
    QuantizedWeightFormat? StoredWeightFormat { get; }
}
