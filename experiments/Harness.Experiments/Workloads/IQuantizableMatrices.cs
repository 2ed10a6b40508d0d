using Harness.Optimizers.Quantization;

namespace Harness.Experiments.Workloads;

/// <summary>A workload whose model can store its matrix weights quantized (Q-GaLore's INT8 weights).</summary>
public interface IQuantizableMatrices
{
    /// <summary>
    /// Stores the model's matrix-role linear weights in <paramref name="format"/> and refreshes <see cref="IWorkload.Parameters"/>
    /// (those weights then carry <see cref="Harness.Optimizers.NamedParameter.Quantized"/>); returns how many were converted.
    /// </summary>
    int StoreMatricesQuantized(QuantizedWeightFormat format);
}
