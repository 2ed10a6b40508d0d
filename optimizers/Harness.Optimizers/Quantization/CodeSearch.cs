using static TorchSharp.torch;

namespace Harness.Optimizers.Quantization;

/// <summary>
/// The nearest-code search of <see cref="BlockwiseQuantization.NearestCode"/> as table look-ups instead of a binary search:
/// the same index for every float32 input, ties and saturation included, at a few element-wise passes (on one CPU thread
/// about 7× faster than torch's <c>bucketize</c> over the 255 boundaries, which dominated the tensor-ops 8-bit Adam step).
/// </summary>
/// <remarks>
/// The search counts the boundaries below x. A tie (x on the boundary between codes k and k+1) goes to the even index
/// of the pair, so for an odd k the boundary counts when x ≥ mid[k]: that is x &gt; the float just below mid[k], and
/// with those adjusted boundaries the search is a plain count of boundaries strictly below x. x = m·2^e (<c>frexp</c>,
/// 0.5 ≤ |m| &lt; 1) names a bucket by e (clamped to [−64, 2]: the codes lie in [−1, 1]) and trunc(128·m), a 1/128 slice of
/// the mantissa with its sign; <see cref="Start"/> holds the count of boundaries below the bucket's smallest value, and at
/// most <see cref="Steps"/> boundaries lie inside any bucket, so x's count is the start plus <see cref="Steps"/>
/// comparisons <c>idx += (bound[idx] &lt; x)</c>. A NaN sentinel after the last boundary stops every walk at 255; ±Inf
/// search as ±2. Device-agnostic tensor ops (TorchSharp cannot reinterpret float bits), built once on the host from the
/// code book's values: no host read in a step.
/// </remarks>
public sealed class CodeSearch : IDisposable
{
    private const int MinExponent = -64, MaxExponent = 2, Slots = 256;

    /// <param name="code">The 256 code values, increasing (a <see cref="DynamicMap"/>), as float32.</param>
    /// <param name="device">Where the search runs.</param>
    public CodeSearch(float[] code, Device device)
    {
        ArgumentNullException.ThrowIfNull(code);
        if (code.Length != DynamicMap.Size) throw new ArgumentException($"a code book has {DynamicMap.Size} entries (got {code.Length})", nameof(code));
        var bounds = new float[DynamicMap.Size];
        for (var k = 0; k < DynamicMap.Size - 1; k++)
        {
            if (!(code[k + 1] > code[k])) throw new ArgumentException($"code book values must increase (entries {k} and {k + 1} do not)", nameof(code));
            var mid = (code[k] + code[k + 1]) * 0.5f;
            bounds[k] = k % 2 == 1 ? MathF.BitDecrement(mid) : mid;
        }
        bounds[^1] = float.NaN;
        var start = new long[(MaxExponent - MinExponent + 1) * Slots];
        var steps = 0;
        for (var e = MinExponent; e <= MaxExponent; e++)
            for (var slot = 0; slot < Slots; slot++)
            {
                if (Range(e, slot) is not var (lo, hi)) continue;
                var key = (e - MinExponent) * Slots + slot;
                start[key] = CountBelow(bounds, lo);
                steps = Math.Max(steps, (int)(CountBelow(bounds, hi) - start[key]));
            }
        Steps = steps;
        Bounds = tensor(bounds).to(device).DetachFromDisposeScope();
        Start = tensor(start).to(device).DetachFromDisposeScope();
    }

    /// <summary>Adjusted boundaries (odd ones one float lower), then the NaN sentinel: 256 float32.</summary>
    public Tensor Bounds { get; }

    /// <summary>Per bucket (exponent, signed mantissa slice), the number of boundaries below its smallest value: int64.</summary>
    public Tensor Start { get; }

    /// <summary>The most boundaries any one bucket holds: the comparisons per element.</summary>
    public int Steps { get; }

    /// <summary>The nearest code's index (int64, the input's shape) of each element of a float32 tensor; NaN gives 0.</summary>
    public Tensor Find(Tensor scaled)
    {
        ArgumentNullException.ThrowIfNull(scaled);
        using var scope = NewDisposeScope();
        var x = scaled.to(ScalarType.Float32).reshape(-1);
        var (m, e) = x.nan_to_num(0, 2, -2).frexp();
        // key = (e − MinExponent)·Slots + trunc(128·m) + 128, one index per (exponent, signed 1/128 mantissa slice).
        var key = e.to(ScalarType.Int64).clamp_(MinExponent, MaxExponent).mul_(Slots)
            .add_(m.mul_(128).to(ScalarType.Int64)).add_(128 - MinExponent * Slots);
        var index = Start.index_select(0, key);
        for (var s = 0; s < Steps; s++) index.add_(Bounds.index_select(0, index).lt(x));
        return index.masked_fill_(x.isnan(), 0).reshape(scaled.shape).MoveToOuterDisposeScope();
    }

    // The values of bucket (e, slot) as [lo, hi] (a superset is fine: it only costs steps); null for slots no x reaches.
    // Slot 128 is ±0; 192..255 hold m ∈ [(slot−128)/128, (slot−127)/128); 1..64 hold m ∈ ((slot−129)/128, (slot−128)/128]
    // (trunc rounds towards 0). The lowest exponent also holds every smaller magnitude.
    private static (double Lo, double Hi)? Range(int e, int slot)
    {
        var scale = Math.ScaleB(1.0, e) / 128;
        var tiny = e == MinExponent;
        return slot switch
        {
            128 => (0, 0),
            >= 192 => (tiny ? 0 : (slot - 128) * scale, (slot - 127) * scale),
            >= 1 and <= 64 => ((slot - 129) * scale, tiny ? 0 : (slot - 128) * scale),
            _ => null,
        };
    }

    // How many boundaries lie below x: a lower-bound search over the 255 finite, nondecreasing boundaries (the NaN sentinel
    // after them is below nothing).
    private static long CountBelow(float[] bounds, double x)
    {
        var (lo, hi) = (0, bounds.Length - 1);
        while (lo < hi)
        {
            var mid = (lo + hi) / 2;
            if (bounds[mid] < x) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    public void Dispose()
    {
        Bounds.Dispose();
        Start.Dispose();
    }
}
