using static TorchSharp.torch;

namespace Harness.Optimizers.Quantization;

/// <summary>
/// Asymmetric min/max group quantization as Q-GaLore does it (VITA-Group/Q-GaLore @5bd2f1c,
/// <c>q_galore_projector_simulate.py</c> <c>_quantize</c> and <c>q_galore_adamw8bit_simulate.py</c>
/// <c>_quantize</c>/<c>_quantize_stochastic_round</c>): the tensor is flattened row-major and cut into
/// groups of <c>groupSize</c> consecutive elements; per group
/// <code>
/// scale = clamp(max − min, min = 1e-5) / (2^bits − 1)
/// zero  = clamp(−round(min / scale), 0, 2^bits − 1)
/// q     = clamp(round(x / scale) + zero, 0, 2^bits − 1)        (round half to even, as torch.round)
/// x̂     = (q − zero) · scale
/// </code>
/// Stochastic rounding replaces <c>round(x / scale)</c> by <c>ceil</c> with probability
/// <c>x/scale − floor(x/scale)</c>, else <c>floor</c>, with a uniform draw from a caller's generator.
/// </summary>
/// <remarks>
/// Differences from the reference, both exact on what the reference accepts: (1) the reference asserts
/// <c>numel % groupSize == 0</c>; here a shorter last group is allowed (it is padded with copies of the
/// last element, which changes neither its min nor its max, and the padding is dropped again), so a
/// divisible tensor gives the same codes bit for bit; (2) zero points are integers in [0, 2^bits − 1]
/// and are stored as uint8 (the reference keeps them in the scale's float dtype; the values are equal).
/// Codes are one per byte (uint8), unpacked, as in the reference, for every supported width.
/// </remarks>
public static class GroupQuantizer
{
    /// <summary>The smallest supported code width.</summary>
    public const int MinBits = 2;

    /// <summary>The largest supported code width (codes are stored one per byte).</summary>
    public const int MaxBits = 8;

    /// <summary>Whether <paramref name="bits"/> is a supported code width.</summary>
    public static bool IsSupported(int bits) => bits is >= MinBits and <= MaxBits;

    /// <summary>Number of groups (the last one possibly shorter) for <paramref name="numel"/> elements.</summary>
    public static long GroupCount(long numel, int groupSize) => (numel + groupSize - 1) / groupSize;

    /// <summary>
    /// Quantization of <paramref name="values"/> into preallocated storage: <paramref name="codes"/> uint8 [numel],
    /// <paramref name="scales"/> float32 [groups], <paramref name="zeros"/> uint8 [groups]. The arithmetic runs in
    /// float32; rounding is to nearest, or stochastic with a <paramref name="generator"/> (the draws of
    /// <see cref="FakeQuantize"/>, so both give the same codes).
    /// </summary>
    public static void QuantizeInto(Tensor values, int groupSize, int bits, Tensor codes, Tensor scales, Tensor zeros, Generator? generator = null)
    {
        Check(groupSize, bits);
        using var scope = NewDisposeScope();
        var numel = values.numel();
        var x = Grouped(values.to(ScalarType.Float32), groupSize);
        var (s, z) = ScalesAndZeros(x, bits);
        var q = ShiftedCodes(x, s, z, bits, generator);
        codes.copy_(q.flatten().narrow(0, 0, numel).view(codes.shape).to(ScalarType.Byte));
        scales.copy_(s.view(scales.shape));
        zeros.copy_(z.view(zeros.shape).to(ScalarType.Byte));
    }

    /// <summary>
    /// <c>scale · (q − zero)</c> per group, as float32 of <paramref name="shape"/>.
    /// </summary>
    public static Tensor Dequantize(Tensor codes, Tensor scales, Tensor zeros, int groupSize, long[] shape)
    {
        var numel = codes.numel();
        var groups = scales.numel();
        var pad = groups * groupSize - numel;
        var q = codes.flatten().to(ScalarType.Float32);
        if (pad > 0) q = cat([q, q.new_zeros(pad)]);
        var x = scales.unsqueeze(1).mul(q.view(groups, groupSize).sub(zeros.to(ScalarType.Float32).unsqueeze(1)));
        return x.flatten().narrow(0, 0, numel).reshape(shape);
    }

    /// <summary>
    /// Quantize-then-dequantize in one go (the reference's simulated INT8 weight): the values the
    /// stored codes would decode to, in the input's dtype and shape. With a <paramref name="generator"/>
    /// the rounding is stochastic (one float32 uniform draw per element, padding included), else to nearest.
    /// </summary>
    public static Tensor FakeQuantize(Tensor values, int groupSize, int bits, Generator? generator)
    {
        Check(groupSize, bits);
        var numel = values.numel();
        var x = Grouped(values.to(ScalarType.Float32), groupSize);
        var (s, z) = ScalesAndZeros(x, bits);
        var deq = ShiftedCodes(x, s, z, bits, generator).sub_(z).mul_(s);
        return deq.flatten().narrow(0, 0, numel).reshape(values.shape).to(values.dtype);
    }

    // clamp(round(x / scale) + zero, 0, 2^bits − 1) in float32; round is stochastic with a generator.
    private static Tensor ShiftedCodes(Tensor grouped, Tensor scales, Tensor zeros, int bits, Generator? generator) =>
        // Drawn on the generator's device (the CPU) and moved: the same draws on every device, and no
        // CUDA generator, which TorchSharp 0.107 cannot create against a newer libtorch.
        ShiftedCodes(grouped, scales, zeros, bits,
            generator is null ? null : rand(grouped.shape, dtype: ScalarType.Float32, device: generator.device, generator: generator).to(grouped.device));

    /// <summary>
    /// <c>clamp(round(x / scale) + zero, 0, 2^bits − 1)</c> in float32 on a (groups, groupSize) view; with
    /// <paramref name="uniform"/> draws of that shape the rounding is stochastic (up where u &lt; x/scale − floor).
    /// </summary>
    internal static Tensor ShiftedCodes(Tensor grouped, Tensor scales, Tensor zeros, int bits, Tensor? uniform)
    {
        var y = grouped.div(scales);
        Tensor rounded;
        if (uniform is null)
        {
            rounded = y.round_();
        }
        else
        {
            // Up where u < y − floor(y): floor(y) + (frac > u), the same values as where(u < frac, ceil(y), floor(y))
            // (a fractional y has ceil = floor + 1 exactly), in float passes without a bool mask or where.
            rounded = y.floor();
            rounded.add_(y.sub_(rounded).gt_(uniform));
        }
        return rounded.add_(zeros).clamp_(0, MaxInt(bits));
    }

    private static int MaxInt(int bits) => (1 << bits) - 1;

    internal static void Check(int groupSize, int bits)
    {
        if (groupSize <= 0) throw new ArgumentOutOfRangeException(nameof(groupSize), groupSize, "group size must be > 0");
        if (!IsSupported(bits)) throw new ArgumentOutOfRangeException(nameof(bits), bits, $"bits must be in {MinBits}..{MaxBits}");
    }

    // (groups, groupSize) view of the flattened tensor; a short last group is padded with its last element.
    internal static Tensor Grouped(Tensor values, int groupSize)
    {
        var flat = values.flatten();
        var numel = flat.numel();
        var groups = GroupCount(numel, groupSize);
        var pad = groups * groupSize - numel;
        if (pad > 0) flat = cat([flat, flat.narrow(0, numel - 1, 1).expand(pad)]);
        return flat.view(groups, groupSize);
    }

    internal static (Tensor Scales, Tensor Zeros) ScalesAndZeros(Tensor grouped, int bits)
    {
        var maxInt = MaxInt(bits);
        var max = grouped.amax([1], keepdim: true);
        var min = grouped.amin([1], keepdim: true);
        var scales = max.sub(min).clamp_(min: 1e-5).div_(maxInt);
        var zeros = min.div(scales).round_().neg_().clamp_(0, maxInt);
        return (scales, zeros);
    }
}
