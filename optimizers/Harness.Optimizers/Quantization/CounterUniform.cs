using static TorchSharp.torch;

namespace Harness.Optimizers.Quantization;

/// <summary>
/// Counter-based uniform draws made on the tensors' own device: lane i of the stream keyed by a 64-bit key k is
/// <c>h = lowbias32((a·i + b) mod 2^32)</c> with <c>a</c> odd and <c>b</c> from SplitMix64's finalizer of k (Wellons' integer hash, a bijection
/// with full avalanche), and gives the two draws <c>(h mod 2^16)/2^16</c> and <c>(h div 2^16)/2^16</c> (elements 2i, 2i+1).
/// Pure integer tensor ops, so the same key gives the same draws on the CPU and on CUDA, needs no generator object
/// (TorchSharp 0.107 cannot create a CUDA generator against a newer libtorch) and no host round trip; a stream is
/// addressed by element index, so a tile of it can be drawn alone.
/// Used for Q-GaLore's stochastic rounding on its fast path (the reference draws <c>torch.rand_like</c> in bf16).
/// </summary>
/// <remarks>
/// 16 bits per draw (the reference's bf16 draws carry 8), so P(round up) is resolved to 2^-16. The arithmetic runs on
/// int32 tensors holding the 32-bit words: products wrap mod 2^32 as two's-complement multiplication does on every
/// torch backend (vectorised 32-bit multiplies on AVX2, where int64 ones are emulated), a logical right shift is the
/// arithmetic one masked, and the start <c>a·first + b</c> is formed on the host, so the lanes are <c>a·j + start</c>
/// for j = 0, 1, …. Cost: about 15 int32 passes per lane (two draws) and 3 conversion passes; the int64 formulation it
/// replaced (same draws) took 14 int64 passes per lane, whose multiplies AVX2 emulates: the draws for the CPU benchmark's
/// 14 matrices (1.58 M elements, one thread) went from 21 to 3.8 ms. Streams are limited to 2^33 elements, one call to 2^32.
/// </remarks>
public static class CounterUniform
{
    private const uint Hash1 = 0x7feb352d, Hash2 = 0x846ca68b;

    /// <summary>Draws <paramref name="count"/> float32 values in [0, 1): elements <paramref name="offset"/> … of stream <paramref name="key"/>.</summary>
    public static Tensor Draw(ulong key, long offset, long count, Device device)
    {
        if (offset < 0 || count < 0 || offset + count > 1L << 33 || count > 1L << 32)
            throw new ArgumentOutOfRangeException(nameof(count), $"elements [{offset}, {offset + count}) are outside a stream of 2^33 (or one call's 2^32)");
        using var scope = NewDisposeScope();
        var (first, last) = (offset / 2, (offset + count + 1) / 2);
        var (a, b) = StreamConstants(key);
        var start = unchecked(a * (uint)first + b);
        var x = arange(0L, last - first, dtype: ScalarType.Int32, device: device).mul_(Signed(a)).add_(Signed(start));
        // lowbias32 up to its last step: x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b (mod 2^32).
        x.bitwise_xor_(x.bitwise_right_shift(16).bitwise_and_(0xFFFF)).mul_(Signed(Hash1));
        x.bitwise_xor_(x.bitwise_right_shift(15).bitwise_and_(0x1FFFF)).mul_(Signed(Hash2));
        // Its last step, h = x ^ (x >> 16), only touches the low half: h div 2^16 = x div 2^16, h mod 2^16 = (x ^ x div 2^16) mod 2^16.
        var high = x.bitwise_right_shift(16).bitwise_and_(0xFFFF);
        var low = x.bitwise_xor_(high).bitwise_and_(0xFFFF);
        var halves = empty([last - first, 2], ScalarType.Float32, device);
        halves.select(1, 0).copy_(low);
        halves.select(1, 1).copy_(high);
        return halves.view(-1).narrow(0, offset - 2 * first, count).mul(1.0 / (1 << 16)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The stream's lane map <c>(a·i + b) mod 2^32</c>: SplitMix64's finalizer of the key spreads every key bit over the
    /// multiplier <c>a</c> (odd, 31 free bits) and the offset <c>b</c> (32 bits). The fused Q-GaLore write-back takes them.
    /// </summary>
    public static (uint Multiplier, uint Offset) StreamConstants(ulong key)
    {
        var mixed = Mix(key);
        return ((uint)((mixed >> 32) << 1 | 1), (uint)mixed);
    }

    private static int Signed(uint x) => unchecked((int)x);

    private static ulong Mix(ulong x)
    {
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}
