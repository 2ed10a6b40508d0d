using static TorchSharp.torch;

namespace Harness.Optimizers.Gefen;

/// <summary>
/// Gefen's global first-moment codebook (ndvbd/Gefen @27f3a28, <c>gefen.py</c> histogram and
/// <c>quantization.py</c> <c>exact_dp</c>): a 4,096-bin histogram over [−1, 1] of first-step gradients
/// normalised by their block absmax, then exact weighted 1-D k-means by dynamic programming over the
/// active bins, with the end codewords forced to −1 and +1.
/// </summary>
public static class CodebookDp
{
    /// <summary>Codewords (uint8 indices).</summary>
    public const int Codewords = 256;

    /// <summary>Histogram bins: 16 per codeword.</summary>
    public const int Bins = 16 * Codewords;

    /// <summary>
    /// Adds one parameter's flat gradient to <paramref name="counts"/> (float32, as the reference accumulates
    /// on the host): each value divided by its block's absmax (0 for an all-zero block), binned by
    /// <c>floor((x + 1) / (2/4096))</c> clamped to [0, 4095].
    /// </summary>
    public static void AccumulateHistogram(Tensor flatGrad, long period, float[] counts)
    {
        if (counts.Length != Bins) throw new ArgumentException($"expected {Bins} counts", nameof(counts));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var blocks = flatGrad.detach().reshape(-1).to(ScalarType.Float32).view(-1, period);
        var absmax = blocks.abs().amax([1], keepdim: true);
        var normalized = where(absmax > 0, blocks / absmax, zeros_like(blocks)).reshape(-1);
        var bins = normalized.add(1.0).div_(2.0 / Bins).floor_().to(ScalarType.Int64).clamp_(0, Bins - 1);
        var local = bincount(bins, minlength: Bins).to(ScalarType.Float32).cpu().data<float>().ToArray();
        for (var i = 0; i < Bins; i++) counts[i] += local[i];
    }

    /// <summary>The centre of histogram bin <paramref name="k"/>: −1 + (k + ½)/2048 (exact in float32).</summary>
    public static float BinCenter(int k) => (float)(-1.0 + (k + 0.5) * (2.0 / Bins));

    /// <summary>
    /// The codebook for a histogram (ascending, float32): the DP over the active bins when there are at
    /// least <see cref="Codewords"/> of them; else the reference's padded codebook when
    /// <paramref name="padSparse"/>, or the uniform grid linspace(−1, 1, 256) otherwise.
    /// </summary>
    public static float[] FromHistogram(IReadOnlyList<float> counts, bool padSparse = true)
    {
        if (counts.Count != Bins) throw new ArgumentException($"expected {Bins} counts", nameof(counts));
        var centers = new List<double>();
        var weights = new List<double>();
        for (var k = 0; k < Bins; k++)
        {
            if (!(counts[k] > 0)) continue;
            centers.Add(BinCenter(k));
            weights.Add(counts[k]);
        }
        if (centers.Count == 0) throw new ArgumentException("cannot learn a codebook from an empty histogram", nameof(counts));
        return centers.Count >= Codewords ? Solve(centers, weights, Codewords, forceEndpoints: true)
            : padSparse ? Padded(centers, Codewords)
            : Uniform(Codewords);
    }

    /// <summary>Evenly spaced codewords over [−1, 1], endpoints included.</summary>
    public static float[] Uniform(int codewords) =>
        Enumerable.Range(0, codewords).Select(i => (float)(-1.0 + 2.0 * i / (codewords - 1))).ToArray();

    /// <summary>
    /// Fewer active points than codewords: the active centres, the last one repeated, then the first entry
    /// replaced by −1 and the last by +1 (this drops the smallest active centre), sorted.
    /// </summary>
    public static float[] Padded(IReadOnlyList<double> centers, int codewords)
    {
        var book = new float[codewords];
        for (var i = 0; i < codewords; i++) book[i] = (float)centers[Math.Min(i, centers.Count - 1)];
        book[0] = -1f;
        book[^1] = 1f;
        Array.Sort(book);
        return book;
    }

    /// <summary>
    /// Exact weighted 1-D k-means: splits the sorted points into exactly <paramref name="k"/> non-empty
    /// contiguous runs minimising Σ w·(c − centre)², interior centres at their weighted mean, and with
    /// <paramref name="forceEndpoints"/> the first run's centre fixed at −1 and the last's at +1. Prefix sums
    /// in float64; ties keep the smallest split (strict <c>&lt;</c>, ascending). O(k·N²/2) time.
    /// </summary>
    public static float[] Solve(IReadOnlyList<double> centers, IReadOnlyList<double> weights, int k, bool forceEndpoints)
    {
        var n = centers.Count;
        if (weights.Count != n) throw new ArgumentException("centers and weights differ in length", nameof(weights));
        if (k < 1 || k > n) throw new ArgumentOutOfRangeException(nameof(k), k, $"must be in [1, {n}]");
        var w = new double[n + 1];
        var x = new double[n + 1];
        var q = new double[n + 1];
        for (var i = 0; i < n; i++)
        {
            if (!(weights[i] > 0)) throw new ArgumentException($"weight {i} is not positive", nameof(weights));
            w[i + 1] = w[i] + weights[i];
            x[i + 1] = x[i] + weights[i] * centers[i];
            q[i + 1] = q[i] + weights[i] * (centers[i] * centers[i]);
        }

        var previous = new double[n + 1];
        var current = new double[n + 1];
        Array.Fill(previous, double.PositiveInfinity);
        previous[0] = 0;
        var back = new int[k + 1][];
        for (var c = 1; c <= k; c++)
        {
            back[c] = new int[n + 1];
            Array.Fill(current, double.PositiveInfinity);
            double? fixedCenter = !forceEndpoints ? null : c == 1 ? -1.0 : c == k ? 1.0 : null;
            // Ends past n − (k − c) cannot be completed by the remaining runs, so they are never read.
            for (var e = c; e <= n - (k - c); e++)
            {
                var best = double.PositiveInfinity;
                var bestStart = -1;
                if (fixedCenter is { } a)
                {
                    for (var s = c; s <= e; s++)
                    {
                        var candidate = previous[s - 1] + ((q[e] - q[s - 1]) - 2.0 * a * (x[e] - x[s - 1]) + a * a * (w[e] - w[s - 1]));
                        if (candidate < best) (best, bestStart) = (candidate, s);
                    }
                }
                else
                {
                    // The hot loop (all interior runs): cost = Σwc² − (Σwc)²/Σw.
                    double we = w[e], xe = x[e], qe = q[e];
                    for (var s = c; s <= e; s++)
                    {
                        var sx = xe - x[s - 1];
                        var candidate = previous[s - 1] + ((qe - q[s - 1]) - sx * sx / (we - w[s - 1]));
                        if (candidate < best) (best, bestStart) = (candidate, s);
                    }
                }
                current[e] = best;
                back[c][e] = bestStart;
            }
            (previous, current) = (current, previous);
        }

        var book = new float[k];
        var end = n;
        for (var c = k; c >= 1; c--)
        {
            var start = back[c][end];
            book[c - 1] = forceEndpoints && c == 1 ? -1f
                : forceEndpoints && c == k ? 1f
                : (float)((x[end] - x[start - 1]) / (w[end] - w[start - 1]));
            end = start - 1;
        }
        Array.Sort(book);
        return book;
    }

    /// <summary>
    /// Index of the nearest codeword: lower bound, then the lower neighbour on a tie. NaN-free input is assumed
    /// (a NaN block scale is masked to 0 first, the reference path's policy).
    /// </summary>
    public static Tensor Nearest(Tensor codebook, Tensor values)
    {
        var flat = values.reshape(-1).to(ScalarType.Float32);
        var k = codebook.numel();
        var idx = searchsorted(codebook, flat);
        var left = (idx - 1).clamp_(0, k - 1);
        var right = idx.clamp(0, k - 1);
        return where((flat - codebook.take(left)).abs() <= (flat - codebook.take(right)).abs(), left, right).view(values.shape);
    }
}
