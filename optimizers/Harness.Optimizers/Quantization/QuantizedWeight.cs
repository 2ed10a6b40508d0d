using static TorchSharp.torch;

namespace Harness.Optimizers.Quantization;

/// <summary>
/// A weight matrix stored as group-quantized codes, as Q-GaLore's <c>QGaLoreLinear</c> stores its INT8 weights
/// (VITA-Group/Q-GaLore @5bd2f1c, <c>q_galore_torch/utils/quantization.py</c>): uint8 codes of the weight's shape,
/// and per group of <see cref="QuantizedWeightFormat.GroupSize"/> consecutive row-major elements an fp32 scale and a
/// uint8 zero point (<see cref="GroupQuantizer"/>'s asymmetric min/max scheme). There is no high-precision copy:
/// the model dequantizes it for its forward (<see cref="Dequantize"/>), and the optimizer writes its update back with
/// <see cref="Store"/> (scales and zero points recomputed from the updated weight, as the reference does).
/// </summary>
/// <remarks>
/// Bytes: numel (codes) + 5·⌈numel / group⌉ (scales, zeros); <see cref="BytesFor"/>. The reference keeps scales and
/// zero points in the weight dtype (fp32 at creation, bf16 after its first bf16 step); here both are exact in fp32 and
/// uint8. The codes are owned by this object, not by any dispose scope.
/// </remarks>
public sealed class QuantizedWeight : IDisposable
{
    private QuantizedWeight(long[] shape, QuantizedWeightFormat format, Device device)
    {
        Shape = shape;
        Format = format;
        var numel = shape.Aggregate(1L, (a, b) => a * b);
        var groups = GroupQuantizer.GroupCount(numel, format.GroupSize);
        Codes = zeros(shape, ScalarType.Byte, device).DetachFromDisposeScope();
        Scales = zeros([groups], ScalarType.Float32, device).DetachFromDisposeScope();
        Zeros = zeros([groups], ScalarType.Byte, device).DetachFromDisposeScope();
    }

    /// <summary>The codes of <paramref name="dense"/>, rounded to nearest (the reference quantizes its initial weights so).</summary>
    public static QuantizedWeight FromDense(Tensor dense, QuantizedWeightFormat format)
    {
        ArgumentNullException.ThrowIfNull(dense);
        ArgumentNullException.ThrowIfNull(format);
        var q = new QuantizedWeight(dense.shape, format, dense.device);
        q.Store(dense, null);
        return q;
    }

    public long[] Shape { get; }

    public QuantizedWeightFormat Format { get; }

    /// <summary>uint8 codes, of the weight's shape.</summary>
    public Tensor Codes { get; }

    /// <summary>float32 scale per group.</summary>
    public Tensor Scales { get; }

    /// <summary>uint8 zero point per group.</summary>
    public Tensor Zeros { get; }

    /// <summary>The stored tensors by name (checkpoints save and load them).</summary>
    public IEnumerable<(string Name, Tensor Tensor)> Tensors => [("codes", Codes), ("scales", Scales), ("zeros", Zeros)];

    /// <summary>Exact bytes of the stored codes, scales and zero points.</summary>
    public long Bytes => Tensors.Sum(t => t.Tensor.numel() * t.Tensor.element_size());

    /// <summary>Bytes a weight of <paramref name="numel"/> elements takes in <paramref name="format"/>.</summary>
    public static long BytesFor(long numel, QuantizedWeightFormat format)
    {
        ArgumentNullException.ThrowIfNull(format);
        return numel + 5 * GroupQuantizer.GroupCount(numel, format.GroupSize);
    }

    /// <summary><c>scale·(q − zero)</c> as a new tensor of <paramref name="dtype"/> (computed in float32, then cast).</summary>
    public Tensor Dequantize(ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var x = GroupQuantizer.Dequantize(Codes, Scales, Zeros, Format.GroupSize, Shape);
        return (dtype == ScalarType.Float32 ? x : x.to(dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Quantizes <paramref name="dense"/> into the stored codes, scales and zero points: to nearest, or stochastically with
    /// <paramref name="generator"/>.
    /// </summary>
    public void Store(Tensor dense, Generator? generator)
    {
        ArgumentNullException.ThrowIfNull(dense);
        if (!dense.shape.SequenceEqual(Shape))
            throw new ArgumentException($"weight of shape [{string.Join(",", dense.shape)}] does not fit storage of shape [{string.Join(",", Shape)}]", nameof(dense));
        using var noGrad = no_grad();
        GroupQuantizer.QuantizeInto(dense, Format.GroupSize, Format.Bits, Codes, Scales, Zeros, generator);
    }

    public void Dispose()
    {
        Codes.Dispose();
        Scales.Dispose();
        Zeros.Dispose();
    }
}
