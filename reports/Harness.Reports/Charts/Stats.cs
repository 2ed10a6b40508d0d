namespace Harness.Reports.Charts;

/// <summary>Small statistics over seeds.</summary>
public static class Stats
{
    public static double? Mean(IEnumerable<double?> values)
    {
        var v = values.OfType<double>().ToList();
        return v.Count == 0 ? null : v.Average();
    }

    /// <summary>Sample standard deviation (n − 1); null with fewer than two values.</summary>
    public static double? Std(IEnumerable<double?> values)
    {
        var v = values.OfType<double>().ToList();
        if (v.Count < 2) return null;
        var mean = v.Average();
        return Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Count - 1));
    }

    /// <summary>Standard error of the mean (std / √n); null with fewer than two values.</summary>
    public static double? StandardError(IEnumerable<double?> values)
    {
        var v = values.OfType<double>().ToList();
        return Std(v.Select(x => (double?)x)) is { } s ? s / Math.Sqrt(v.Count) : null;
    }

    /// <summary>The unit (GiB or MiB, KiB below that) that shows the largest value as a readable number, and its size in bytes.</summary>
    public static (string Unit, double Bytes) ByteUnit(double maxBytes) =>
        maxBytes >= 1024.0 * 1024 * 1024 ? ("GiB", 1024.0 * 1024 * 1024)
        : maxBytes >= 1024.0 * 1024 ? ("MiB", 1024.0 * 1024)
        : ("KiB", 1024.0);
}
