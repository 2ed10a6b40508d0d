using Harness.Optimizers.Quantization;
using TorchSharp.Modules;

namespace Harness.Optimizers;

/// <summary>A trainable parameter with its stable name (used in state dicts and traces) and its role.</summary>
public sealed record NamedParameter(string Name, Parameter Value, ParamRole Role)
{
    /// <summary>
    /// Set by the model: optimizers that store low-precision state keep this parameter's state in 32 bits (bitsandbytes'
    /// <c>GlobalOptimManager</c> override <c>optim_bits: 32</c>, which its <c>StableEmbedding</c> registers for its table).
    /// </summary>
    public bool FullPrecisionState { get; init; }

    /// <summary>
    /// Set by the model when it stores this weight quantized (<see cref="IQuantizedWeightOptions"/>): the weight's values
    /// live here, and <see cref="Value"/> is a gradient carrier of the weight's shape and dtype whose data is one
    /// broadcast element (its <c>.grad</c> is the dense weight gradient). Only an optimizer that asked for it reads it.
    /// </summary>
    public QuantizedWeight? Quantized { get; init; }

    /// <summary>Bytes of the stored weight: the quantized storage's, else numel × element size.</summary>
    public long StoredBytes => Quantized?.Bytes ?? Value.numel() * Value.element_size();

    /// <summary>The weight's values: a new dequantized tensor for a quantized weight, else <see cref="Value"/> itself.</summary>
    public TorchSharp.torch.Tensor DenseValue() => Quantized?.Dequantize(Value.dtype) ?? Value;
}
