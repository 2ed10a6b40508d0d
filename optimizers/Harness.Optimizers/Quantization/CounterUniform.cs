using static TorchSharp.torch;

namespace Harness.Optimizers.Quantization;

/// <summary>
/// Counter-based uniform draws made on the tensors' own device: element i of a stream keyed by a 64-bit key is
/// <c>h(h(i ⊕ k_lo) ⊕ k_hi) / 2^32</c> truncated to 24 bits, with h Wellons' <c>lowbias32</c> integer hash. Pure
/// integer tensor ops (int64 holding 32-bit values, products split so none overflows), so the same key gives the same
/// draws on the CPU and on CUDA, needs no generator object (TorchSharp 0.107 cannot create a CUDA generator against a
/// newer libtorch) and no host round trip; a stream is addressed by element index, so a tile of it can be drawn alone.
/// Used for Q-GaLore's stochastic rounding on its fast path (the reference draws <c>torch.rand_like</c>).
/// </summary>
/// <remarks>24 bits per draw (the reference's bf16 draws carry 8); streams longer than 2^32 elements are refused.</remarks>
public static class CounterUniform
{
    private const long Mask32 = 0xFFFFFFFFL;

    /// <summary>Draws <paramref name="count"/> float32 values in [0, 1): elements <paramref name="offset"/> … of stream <paramref name="key"/>.</summary>
    public static Tensor Draw(ulong key, long offset, long count, Device device)
    {
        if (offset < 0 || count < 0 || offset + count > 1L << 32)
            throw new ArgumentOutOfRangeException(nameof(count), $"elements [{offset}, {offset + count}) are outside a stream of 2^32");
        using var scope = NewDisposeScope();
        var i = arange(offset, offset + count, dtype: ScalarType.Int64, device: device);
        var h = Hash(i.bitwise_xor_((long)(key & Mask32)));
        h = Hash(h.bitwise_xor_((long)(key >> 32)));
        return h.bitwise_right_shift_(8).to(ScalarType.Float32).mul_(1.0 / (1 << 24)).MoveToOuterDisposeScope();
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
