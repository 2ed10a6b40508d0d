using static TorchSharp.torch;

namespace Harness.Optimizers.Gefen;

/// <summary>
/// Gefen's block-structure ("automatic period") inference, v1.2.3 rule (ndvbd/Gefen @27f3a28,
/// <c>partitioning.py</c>, CPU backend). A tensor's flat gradient is cut into contiguous blocks of length
/// <c>p</c> for every divisor <c>p</c> of its size with at least 4 blocks; each candidate is scored by the
/// mean absolute difference of adjacent block means of <c>ln(g² + 1e-12)</c>; the period is the strict
/// local maximum with <c>p &gt; 8</c> and the highest score (ties to the larger <c>p</c>), else 1, then
/// capped above 1024 to the smallest divisor in (1024, P] that divides P.
/// </summary>
public static class BlockPeriods
{
    /// <summary>A candidate must leave at least this many blocks (the reference's <c>DMNB</c>).</summary>
    public const long MinBlocks = 4;

    /// <summary>Only periods above this can be selected.</summary>
    public const long MinSelectable = 8;

    /// <summary>Periods above this are reduced by the cap rule (the reference's <c>PC</c>).</summary>
    public const long Cap = 1024;

    /// <summary>The absolute floor inside the logarithm.</summary>
    public const double LogEpsilon = 1e-12;

    /// <summary>Divisors of <paramref name="n"/> in ascending order, including 1 and n (empty for n = 1), at most <paramref name="max"/> when given.</summary>
    public static List<long> Divisors(long n, long? max = null)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "must be >= 1");
        var small = new List<long>();
        var large = new List<long>();
        for (long i = 1; i * i <= n; i++)
        {
            if (n % i != 0) continue;
            var pair = n / i;
            if (i != n && (max is null || i <= max)) small.Add(i);
            if (i != pair && (max is null || pair <= max)) large.Add(pair);
        }
        large.Reverse();
        small.AddRange(large);
        return small;
    }

    /// <summary>The largest divisor of <paramref name="n"/> that is at most <paramref name="limit"/> (n itself when n ≤ limit).</summary>
    public static long LargestDivisorAtMost(long n, long limit)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), n, "must be >= 1");
        if (limit < 1) throw new ArgumentOutOfRangeException(nameof(limit), limit, "must be >= 1");
        return n <= limit ? n : Divisors(n, limit)[^1];
    }

    /// <summary>
    /// <c>S(p) = mean_j |B_{j+1} − B_j|</c> over the block means <c>B_j</c> of <paramref name="logValues"/>
    /// (already <c>ln(g² + 1e-12)</c>) in blocks of <paramref name="p"/>; needs at least two blocks.
    /// </summary>
    public static double Score(ReadOnlySpan<double> logValues, long p)
    {
        var blocks = logValues.Length / p;
        if (logValues.Length % p != 0 || blocks < 2)
            throw new ArgumentException($"{logValues.Length} values do not make at least two blocks of {p}", nameof(p));
        double previous = 0, sumAbs = 0;
        for (long j = 0; j < blocks; j++)
        {
            double sum = 0;
            var block = logValues.Slice((int)(j * p), (int)p);
            foreach (var x in block) sum += x;
            var mean = sum / p;
            if (j > 0) sumAbs += Math.Abs(mean - previous);
            previous = mean;
        }
        return sumAbs / (blocks - 1);
    }

    /// <summary>
    /// The selection and cap rules over candidates ordered by period: neighbours are adjacent entries of the
    /// list (never the first or last entry), a winner must be a strict local maximum with p &gt; 8, ties go to
    /// the larger p; no winner gives 1. <paramref name="n"/> is the tensor size (for the cap's divisors).
    /// </summary>
    public static long Select(IReadOnlyList<(long Period, double Score)> scored, long n)
    {
        if (scored.Count == 0) return 1;
        (double Score, long Period)? best = null;
        for (var k = 1; k < scored.Count - 1; k++)
        {
            var (p, s) = scored[k];
            if (p <= MinSelectable || !(s > scored[k - 1].Score) || !(s > scored[k + 1].Score)) continue;
            if (best is null || s > best.Value.Score || (s == best.Value.Score && p > best.Value.Period)) best = (s, p);
        }
        if (best is null) return 1;
        if (!double.IsFinite(best.Value.Score))
            throw new ArgumentException($"the best period score is not finite ({best.Value.Score})", nameof(scored));
        var period = best.Value.Period;
        return period > Cap ? Divisors(n).First(d => d > Cap && d <= period && period % d == 0) : period;
    }

    /// <summary>The scored candidates (divisors with at least 4 blocks) for a flat log-squared gradient.</summary>
    public static List<(long Period, double Score)> ScoreCandidates(ReadOnlySpan<double> logValues)
    {
        long n = logValues.Length;
        var scored = new List<(long, double)>();
        if (n < 1) return scored;
        foreach (var p in Divisors(n))
            if (n / p >= MinBlocks) scored.Add((p, Score(logValues, p)));
        return scored;
    }

    /// <summary>
    /// The period of a gradient: 1 for a single element; otherwise the rule above on
    /// <c>ln(float32(g²) + 1e-12)</c> computed in float64, in row-major order (as the reference's CPU backend).
    /// </summary>
    public static long Infer(Tensor grad)
    {
        var n = grad.numel();
        if (n == 0) throw new ArgumentException("an empty gradient has no period", nameof(grad));
        if (n == 1) return 1;
        if (n > int.MaxValue) throw new ArgumentException($"tensors over {int.MaxValue} elements are not supported (got {n})", nameof(grad));
        double[] logs;
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            var squared = grad.detach().reshape(-1).to(ScalarType.Float32).square();
            logs = squared.to(ScalarType.Float64).add_(LogEpsilon).log_().cpu().data<double>().ToArray();
        }
        return Select(ScoreCandidates(logs), n);
    }
}
