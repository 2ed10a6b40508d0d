namespace Harness.Optimizers.QGaLore;

/// <summary>Where Q-GaLore's INT8 weights live (<c>weight_storage:</c>), when <c>weight_quant</c> is on.</summary>
public enum QGaLoreWeightStorage
{
    /// <summary>
    /// The reference's default path (<c>QGaLoreLinear</c>): the model stores uint8 codes with group scales and zero
    /// points and dequantizes them for its forward; no fp32 copy of the weight exists. Needs a model that can store its
    /// matrices so (the llama workload); a weight the model keeps dense falls back to <see cref="Simulated"/>.
    /// </summary>
    Int8,

    /// <summary>The reference's <c>--simulation</c> path: an fp32 weight that holds exactly its INT8 grid values (no memory saved).</summary>
    Simulated,
}
