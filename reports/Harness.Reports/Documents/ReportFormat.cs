using System.Globalization;

namespace Harness.Reports.Documents;

/// <summary>Number formatting shared by the Markdown and HTML reports (invariant culture).</summary>
public static class ReportFormat
{
    /// <summary>Bytes in binary units (KiB, MiB, GiB).</summary>
    public static string Bytes(double? bytes)
    {
        if (bytes is not { } b) return "—";
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        var i = 0;
        while (b >= 1024 && i < units.Length - 1) { b /= 1024; i++; }
        return b.ToString(i == 0 ? "F0" : "F2", CultureInfo.InvariantCulture) + " " + units[i];
    }

    public static string Number(double? v, string format) => v is { } x ? x.ToString(format, CultureInfo.InvariantCulture) : "—";

    /// <summary>"mean ± std", or the mean alone with one seed, or a dash.</summary>
    public static string MeanStd(double? mean, double? std, string format) =>
        mean is { } m ? m.ToString(format, CultureInfo.InvariantCulture) + (std is { } s ? " ± " + s.ToString(format, CultureInfo.InvariantCulture) : "") : "—";

    public static string Ratio(double? r) => r is { } x ? "×" + x.ToString("F2", CultureInfo.InvariantCulture) : "—";
}
