using Harness.Optimizers.Quantization;

namespace Harness.Experiments.Models;

/// <summary>A module whose own weight may be stored quantized (<see cref="Harness.Optimizers.NamedParameter.Quantized"/>).</summary>
internal interface IQuantizedWeightOwner
{
    QuantizedWeight? Quantized { get; }
}
