using static TorchSharp.torch;

namespace Harness.Optimizers.Quantization;

/// <summary>
/// Block-wise absmax quantization onto a 256-entry code book (<see cref="DynamicMap"/>), with the rounding
/// of bitsandbytes 0.43.1 (<c>csrc/kernels.cu</c> <c>dQuantize</c>/<c>quantize_2D</c>,
/// <c>kQuantizeBlockwise</c>, <c>kDequantizeBlockwise</c>, <c>kOptimizerStatic8bit2StateBlockwise</c>).
/// Tensor in, tensor out; every function is pure, leaves its inputs untouched and returns tensors the
/// caller owns. Shared by 8-bit Adam and Q-GaLore.
/// </summary>
/// <remarks>
/// Layout: the input is flattened row-major and cut into blocks of <c>blockSize</c> consecutive elements;
/// the last block may be shorter and has its own absmax. Codes are uint8 with the input's shape; absmax is
/// float32 of length ceil(numel / blockSize).
/// <para>Rounding: nearest code, with each boundary the float32 midpoint <c>(c[k] + c[k+1])·0.5f</c> of two
/// neighbouring codes. A value exactly on a midpoint goes to the even index of the pair (the kernel's 7-step
/// binary search always ends on an even pivot and keeps it on a tie). Values above the last code take
/// index 255 and below the first take index 0. Error: |x − deq(x)| ≤ h·absmax (plus float32 rounding),
/// h = the largest half-gap between neighbouring codes, or 1 + c[0] for the signed map's missing −1
/// (0.00703 signed, 0.00352 unsigned for the 8-bit maps).</para>
/// <para>Non-finite input (the reference leaves it undefined; this is our documented policy): absmax is the
/// largest |x| over the block's <em>finite</em> elements, so one bad element does not wreck its block;
/// NaN is stored as the zero code (dequantizes to 0; the CUDA search would return index 0); +Inf and −Inf
/// saturate to indices 255 and 0. A block whose finite absmax is 0 stores the zero code everywhere (the
/// kernel divides by 0 there; it dequantizes to 0 either way).</para>
/// </remarks>
public static class BlockwiseQuantization
{
    /// <summary>bitsandbytes 0.43.1's optimizer block size (the paper's B); 0.44 switched to 256.</summary>
    public const int DefaultBlockSize = 2048;

    /// <summary>Smallest and largest block sizes the reference instantiates (powers of two in between).</summary>
    public const int MinBlockSize = 64, MaxBlockSize = 4096;

    /// <summary>True for the block sizes bitsandbytes 0.43.1 accepts: powers of two in [64, 4096].</summary>
    public static bool IsValidBlockSize(long blockSize) =>
        blockSize is >= MinBlockSize and <= MaxBlockSize && (blockSize & (blockSize - 1)) == 0;

    /// <summary>Number of blocks of a tensor with <paramref name="numel"/> elements.</summary>
    public static long BlockCount(long numel, int blockSize) => (numel + blockSize - 1) / blockSize;

    /// <summary>
    /// Quantizes <paramref name="input"/> (any floating dtype and shape) as <c>quantize_blockwise</c> does:
    /// per-block absmax, each element scaled by the reciprocal <c>x·(1/absmax)</c> in float32, nearest code.
    /// </summary>
    public static (Tensor Codes, Tensor Absmax) Quantize(Tensor input, Tensor code, int blockSize = DefaultBlockSize)
    {
        CheckArguments(code, blockSize);
        using var scope = NewDisposeScope();
        var x = input.detach().reshape(-1).to(ScalarType.Float32);
        var absmax = BlockAbsmax(x, blockSize);
        var scaled = x * Expand(absmax.reciprocal(), blockSize, x.numel());
        var codes = Encode(scaled, x, absmax, code, blockSize, keepSign: false).reshape(input.shape);
        return (codes.MoveToOuterDisposeScope(), absmax.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Quantizes against a given per-block absmax by exact division <c>x / absmax</c>, as the 8-bit optimizer
    /// kernels requantize their states. With <paramref name="keepSign"/> the kernel's sign fix for the first
    /// moment is applied: a code whose sign bit differs from x's is moved one index towards x's sign (in
    /// practice a tiny negative x that rounded to +0 at index 127 becomes index 126). With <paramref name="search"/> (built
    /// from the same code book) the nearest code is found by its table look-ups instead of a binary search: the same codes.
    /// </summary>
    public static Tensor QuantizeWithAbsmax(Tensor input, Tensor absmax, Tensor code, int blockSize = DefaultBlockSize, bool keepSign = false,
        CodeSearch? search = null)
    {
        CheckArguments(code, blockSize);
        using var scope = NewDisposeScope();
        var x = input.detach().reshape(-1).to(ScalarType.Float32);
        if (absmax.numel() != BlockCount(x.numel(), blockSize))
            throw new ArgumentException($"absmax has {absmax.numel()} entries; {x.numel()} elements in blocks of {blockSize} need {BlockCount(x.numel(), blockSize)}", nameof(absmax));
        var a = absmax.to(ScalarType.Float32);
        var scaled = x / Expand(a, blockSize, x.numel());
        return Encode(scaled, x, a, code, blockSize, keepSign, search).reshape(input.shape).MoveToOuterDisposeScope();
    }

    /// <summary><c>code[codes]·absmax[block]</c> in float32, with the codes' shape.</summary>
    public static Tensor Dequantize(Tensor codes, Tensor absmax, Tensor code, int blockSize = DefaultBlockSize)
    {
        CheckArguments(code, blockSize);
        using var scope = NewDisposeScope();
        var flat = codes.reshape(-1);
        if (absmax.numel() != BlockCount(flat.numel(), blockSize))
            throw new ArgumentException($"absmax has {absmax.numel()} entries; {flat.numel()} codes in blocks of {blockSize} need {BlockCount(flat.numel(), blockSize)}", nameof(absmax));
        var values = code.to(ScalarType.Float32).index_select(0, flat.to(ScalarType.Int64));
        var result = values * Expand(absmax.to(ScalarType.Float32), blockSize, flat.numel());
        return result.reshape(codes.shape).MoveToOuterDisposeScope();
    }

    /// <summary>Largest |x| over the finite elements of each block (0 for a block with none), float32.</summary>
    public static Tensor BlockAbsmax(Tensor input, int blockSize = DefaultBlockSize)
    {
        if (!IsValidBlockSize(blockSize))
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "must be a power of two in [64, 4096]");
        using var scope = NewDisposeScope();
        var x = input.detach().reshape(-1).to(ScalarType.Float32);
        var n = x.numel();
        var blocks = BlockCount(n, blockSize);
        var magnitude = x.abs().masked_fill(x.isfinite().logical_not(), 0f);
        var padded = nn.functional.pad(magnitude, [0, blocks * blockSize - n]); // zeros do not change a max of |x|
        return padded.reshape(blocks, blockSize).amax([1]).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Index of the nearest code for each element of <paramref name="scaled"/> (already divided by its absmax),
    /// exactly as the kernel's binary search picks it, including ties (even index) and NaN (index 0). int64.
    /// </summary>
    public static Tensor NearestCode(Tensor scaled, Tensor code)
    {
        if (code.numel() != DynamicMap.Size) throw new ArgumentException($"a code book has {DynamicMap.Size} entries (got {code.numel()})", nameof(code));
        using var scope = NewDisposeScope();
        var c = code.to(ScalarType.Float32);
        var midpoints = (c.narrow(0, 0, DynamicMap.Size - 1) + c.narrow(0, 1, DynamicMap.Size - 1)) * 0.5f;
        var x = scaled.to(ScalarType.Float32);
        var index = bucketize(x, midpoints, false, false); // ties land on the lower index k
        var onMidpoint = x.eq(midpoints.index_select(0, index.clamp_max(DynamicMap.Size - 2).reshape(-1)).reshape(index.shape));
        var tieToEven = onMidpoint.logical_and(index.remainder(2).eq(1)).logical_and(index.lt(DynamicMap.Size - 1));
        index = index + tieToEven.to(ScalarType.Int64);
        return index.masked_fill(x.isnan(), 0).MoveToOuterDisposeScope();
    }

    /// <summary>Index of the code closest to 0 (127 in the signed 8-bit map, 0 in the unsigned one).</summary>
    public static long ZeroIndex(Tensor code) => code.abs().argmin().item<long>();

    private static Tensor Encode(Tensor scaled, Tensor x, Tensor absmax, Tensor code, int blockSize, bool keepSign, CodeSearch? search = null)
    {
        var n = x.numel();
        var emptyBlock = Expand(absmax.eq(0f), blockSize, n);
        var finite = scaled.masked_fill(scaled.isnan(), 0f);
        var index = search is null ? NearestCode(finite, code) : search.Find(finite);
        index = where(emptyBlock, code.abs().argmin(), index); // ZeroIndex, kept on the device (no host read in a step)
        if (keepSign)
        {
            var codeNegative = signbit(code.to(ScalarType.Float32).index_select(0, index));
            var mismatch = codeNegative.not_equal(signbit(x)).logical_and(x.isnan().logical_not());
            var towards = x.gt(0f).to(ScalarType.Int64) * 2 - 1;
            index = (index + towards * mismatch.to(ScalarType.Int64)).remainder(DynamicMap.Size); // the kernel's uint8 wraps
        }
        return index.to(ScalarType.Byte);
    }

    // absmax[block of element j] for j < n, as a flat float32 view-backed tensor.
    private static Tensor Expand(Tensor perBlock, int blockSize, long n) =>
        perBlock.unsqueeze(1).expand(perBlock.numel(), blockSize).reshape(-1).narrow(0, 0, n);

    private static void CheckArguments(Tensor code, int blockSize)
    {
        if (!IsValidBlockSize(blockSize))
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "must be a power of two in [64, 4096]");
        if (code.numel() != DynamicMap.Size)
            throw new ArgumentException($"a code book has {DynamicMap.Size} entries (got {code.numel()})", nameof(code));
    }
}
