namespace Harness.Reports.Claims;

/// <summary>
/// The claimed-vs-measured chart model: one bar per claim with both values, at the height measured ÷ paper
/// (claims have different units, so the paper's value is the line at 1). Claims without a measured value, or
/// with a paper value of 0, are left out and listed in the notes. A log axis when every ratio is positive and
/// they span more than 50× (smoke-scale byte counts beside paper-scale ones).
/// </summary>
public sealed record ClaimsChart
{
    public const string FileName = "claims";

    public required string Title { get; init; }
    public required IReadOnlyList<ClaimsChartItem> Items { get; init; }
    public IReadOnlyList<string> Notes { get; init; } = [];
    public bool LogY { get; init; }

    public static ClaimsChart Build(string paper, string scale, IReadOnlyList<ClaimRow> rows)
    {
        var items = rows.Where(r => r.MeasuredValue is { } m && double.IsFinite(m) && r.PaperValue != 0)
            .Select(r => new ClaimsChartItem(r.Claim, r.PaperValue, r.MeasuredValue!.Value, r.Unit, r.Verdict)).ToList();
        var notes = new List<string> { "bar height: measured value ÷ the paper's value (1 = as the paper says); annotation: the verdict" };
        var left = rows.Where(r => !items.Any(i => i.Claim == r.Claim)).Select(r => r.Claim).ToList();
        if (left.Count > 0) notes.Add($"not on the chart (no measured value, or a paper value of 0): {string.Join(", ", left)}");
        if (scale == "smoke") notes.Add("smoke scale: tiny CPU shapes, the ratios say nothing about the paper");
        var ratios = items.Select(i => i.Ratio).ToList();
        var log = ratios.Count > 0 && ratios.All(r => r > 0) && ratios.Max() / ratios.Min() > 50;
        if (log) notes.Add("log-scaled axis");
        return new ClaimsChart { Title = $"{paper}: claimed vs measured ({scale})", Items = items, Notes = notes, LogY = log };
    }

    /// <summary>The verdict as a bar annotation: short enough to sit over a bar.</summary>
    public static string Short(string verdict) => verdict switch
    {
        ClaimVerdicts.Reproduced => "reproduced",
        ClaimVerdicts.NotReproduced => "not reproduced",
        ClaimVerdicts.Inconclusive => "seeds?",
        ClaimVerdicts.Smoke => "smoke",
        _ => "",
    };

    /// <summary>The colour of a verdict (Okabe–Ito, as the report's palette).</summary>
    public static string Colour(string verdict) => verdict switch
    {
        ClaimVerdicts.Reproduced => "#009E73",
        ClaimVerdicts.NotReproduced => "#D55E00",
        ClaimVerdicts.Inconclusive => "#E69F00",
        _ => "#7F7F7F",
    };

}
