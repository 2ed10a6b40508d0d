using static TorchSharp.torch;

namespace Harness.Optimizers.Quantization;

/// <summary>
/// Counter-based uniform draws made on the tensors' own device: lane i of the stream keyed by a 64-bit key k is
/// <c>h = lowbias32((a·i + b) mod 2^32)</c> with <c>a</c> odd and <c>b</c> from SplitMix64's finalizer of k (Wellons' integer hash, a bijection
/// with full avalanche), and gives the two draws <c>(h mod 2^16)/2^16</c> and <c>(h div 2^16)/2^16</c> (elements 2i, 2i+1).
/// Pure integer tensor ops (int64 holding 32-bit values, products split so none overflows), so the same key gives the
/// same draws on the CPU and on CUDA, needs no generator object (TorchSharp 0.107 cannot create a CUDA generator against
/// a newer libtorch) and no host round trip; a stream is addressed by element index, so a tile of it can be drawn alone.
/// Used for Q-GaLore's stochastic rounding on its fast path (the reference draws <c>torch.rand_like</c> in bf16).
/// </summary>
/// <remarks>
/// 16 bits per draw (the reference's bf16 draws carry 8), so P(round up) is resolved to 2^-16. Cost: about 14 int64
/// element-wise passes per draw, a device-memory traffic of ~200 B per weight element on CUDA (a fused kernel would make
/// it free); streams are limited to 2^33 elements.
/// </remarks>
public static class CounterUniform
{
    private const long Mask32 = 0xFFFFFFFFL;

    /// <summary>Draws <paramref name="count"/> float32 values in [0, 1): elements <paramref name="offset"/> … of stream <paramref name="key"/>.</summary>
    public static Tensor Draw(ulong key, long offset, long count, Device device)
    {
        if (offset < 0 || count < 0 || offset + count > 1L << 33)
            throw new ArgumentOutOfRangeException(nameof(count), $"elements [{offset}, {offset + count}) are outside a stream of 2^33");
        using var scope = NewDisposeScope();
        var (first, last) = (offset / 2, (offset + count + 1) / 2);
        var lanes = arange(first, last, dtype: ScalarType.Int64, device: device);
        var (multiplier, offsetConstant) = StreamConstants(key);
        var h = Hash(MulMod32(lanes, multiplier).add_(offsetConstant).bitwise_and_(Mask32));
        var halves = stack([h.bitwise_and(0xFFFF), h.bitwise_right_shift(16)], 1).to(ScalarType.Float32);
        return halves.view(-1).narrow(0, offset - 2 * first, count).mul(1.0 / (1 << 16)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The stream's lane map <c>(a·i + b) mod 2^32</c>: SplitMix64's finalizer of the key spreads every key bit over the
    /// multiplier <c>a</c> (odd, 31 free bits) and the offset <c>b</c> (32 bits). The fused Q-GaLore write-back takes them.
    /// </summary>
    public static (uint Multiplier, uint Offset) StreamConstants(ulong key)
    {
        var mixed = Mix(key);
        return ((uint)(((mixed >> 32) << 1 | 1) & Mask32), (uint)(mixed & Mask32));
    }

    private static ulong Mix(ulong x)
    {
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }

    // lowbias32: x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16 (mod 2^32).
    private static Tensor Hash(Tensor x)
    {
        x = x.bitwise_xor(x.bitwise_right_shift(16));
        x = MulMod32(x, 0x7feb352dL);
        x = x.bitwise_xor(x.bitwise_right_shift(15));
        x = MulMod32(x, 0x846ca68bL);
        return x.bitwise_xor(x.bitwise_right_shift(16));
    }

    // x·c mod 2^32 for x, c < 2^32 without leaving int64: x·c_lo + ((x·c_hi) mod 2^16)·2^16, each product < 2^48.
    private static Tensor MulMod32(Tensor x, long c)
    {
        var low = x.mul(c & 0xFFFF);
        var high = x.mul(c >> 16).bitwise_and_(0xFFFF).bitwise_left_shift_(16);
        return low.add_(high).bitwise_and_(Mask32);
    }
}
