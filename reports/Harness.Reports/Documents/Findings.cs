using System.Globalization;
using Harness.Reports.Tables;

namespace Harness.Reports.Documents;

/// <summary>
/// The findings list: claims only where the seed spread allows. Loss and throughput are noisy: a difference
/// is claimed when the intervals mean ± 2·SE (SE = sample std / √n) of the two configurations do not overlap,
/// which needs at least two completed seeds on both sides. State memory is exact (summed tensor bytes, not a
/// noisy measurement), so its ratios are reported as facts.
/// </summary>
public static class Findings
{
    public const string Rule = "A difference in loss or throughput is claimed only when the intervals mean ± 2·SE " +
        "(SE = sample standard deviation / √seeds) of the two configurations do not overlap; that needs at least two " +
        "completed seeds on each side. Optimizer state bytes are exact, so state ratios are stated as facts.";

    /// <summary>A max_update_ratio worth a finding: above Adam's bound for β = (0.9, 0.999) (7.27) with room for decay.</summary>
    public const double LargeUpdateRatio = 10;

    public static IReadOnlyList<string> Build(IReadOnlyList<ReportRow> rows)
    {
        var c = CultureInfo.InvariantCulture;
        var list = new List<string>();
        foreach (var r in rows.Where(r => r.Completed < r.Runs))
            list.Add($"{r.Label}: {r.Runs - r.Completed} of {r.Runs} run(s) did not complete ({r.Statuses}); only completed runs enter the numbers.");
        foreach (var r in rows)
        {
            if (r.LossSpikes is > 0)
                list.Add($"{r.Label}: {r.LossSpikes} loss spike(s) over {r.Runs} run(s) (events.csv; marked ▲ on the loss charts).");
            if (r.MaxUpdateRatio is > LargeUpdateRatio and var ratio)
                list.Add($"{r.Label}: a logged step moved a parameter by {ratio.ToString("G3", c)} × lr (max_update_ratio; updates.csv says which role and step); " +
                    "Adam's own rule stays below 7.27 × lr with β = (0.9, 0.999).");
        }
        var reference = SummaryTable.BaselineOf(rows) ?? rows.FirstOrDefault(r => r.Completed > 0);
        if (reference is null)
        {
            list.Add("No configuration completed: no claim can be made.");
            return list;
        }
        var others = rows.Where(r => r.Completed > 0 && !ReferenceEquals(r, reference)).ToList();
        foreach (var r in others)
            if (r.StateBytesMean is { } s && reference.StateBytesMean is { } b && b > 0)
                list.Add($"{r.Label} keeps {(s / b).ToString("F2", c)}× the optimizer state of {reference.Label} ({ReportFormat.Bytes(s)} vs {ReportFormat.Bytes(b)}; exact).");
        if (rows.Where(r => r.Completed > 0).All(r => r.Completed < 2))
        {
            list.Add("Every configuration has a single completed seed: no claim about differences in loss or throughput can be made (run more seeds).");
            return list;
        }
        foreach (var r in others)
        {
            list.Add(Compare("final eval loss", r, reference, x => x.FinalEvalLossMean, x => x.FinalEvalLossStd, "F4"));
            list.Add(Compare("throughput", r, reference, x => x.TokensPerSMean, x => x.TokensPerSStd, "N0"));
        }
        return list;
    }

    /// <summary>One comparison of <paramref name="r"/> against <paramref name="reference"/> under <see cref="Rule"/>.</summary>
    public static string Compare(string what, ReportRow r, ReportRow reference, Func<ReportRow, double?> mean, Func<ReportRow, double?> std, string format)
    {
        var c = CultureInfo.InvariantCulture;
        if (mean(r) is not { } m1 || mean(reference) is not { } m2) return $"{what}: {r.Label} vs {reference.Label}: not measured on both, no claim.";
        if (r.Completed < 2 || reference.Completed < 2 || std(r) is not { } s1 || std(reference) is not { } s2)
            return $"{what}: {r.Label} {m1.ToString(format, c)} vs {reference.Label} {m2.ToString(format, c)}: fewer than two seeds on one side, no claim.";
        var (e1, e2) = (2 * s1 / Math.Sqrt(r.Completed), 2 * s2 / Math.Sqrt(reference.Completed));
        var interval = $"{m1.ToString(format, c)} ± {e1.ToString(format, c)} vs {m2.ToString(format, c)} ± {e2.ToString(format, c)}";
        return Separated(m1, e1, m2, e2)
            ? $"{what}: {r.Label} is {(m1 < m2 ? "lower" : "higher")} than {reference.Label} ({interval}; intervals do not overlap)."
            : $"{what}: {r.Label} vs {reference.Label}: no difference can be claimed ({interval}; intervals overlap).";
    }

    /// <summary>True when [m1 − e1, m1 + e1] and [m2 − e2, m2 + e2] do not overlap.</summary>
    public static bool Separated(double m1, double e1, double m2, double e2) => m1 + e1 < m2 - e2 || m2 + e2 < m1 - e1;
}
