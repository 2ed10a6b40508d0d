namespace Harness.Core.Meters;

/// <summary>Order statistics with linear interpolation between closest ranks (numpy's default).</summary>
public static class Percentiles
{
    public static double? Of(IReadOnlyList<double> values, double q)
    {
        if (values.Count == 0) return null;
        var sorted = values.Order().ToArray();
        var rank = q * (sorted.Length - 1);
        var lo = (int)Math.Floor(rank);
        var hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }
}
