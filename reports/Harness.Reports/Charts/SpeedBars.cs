using System.Globalization;
using Harness.Reports.Tables;

namespace Harness.Reports.Charts;

/// <summary>Throughput and optimizer step time per configuration, the implementation variant in each label.</summary>
public static class SpeedBars
{
    public static BarChart Throughput(IReadOnlyList<ReportRow> rows)
    {
        var c = CultureInfo.InvariantCulture;
        var bars = rows.Where(r => r.TokensPerSMean is not null).Select(r => new BarItem
        {
            Label = LabelOf(r), Optimizer = r.Optimizer,
            Segments = [new BarSegment("tokens/s", r.TokensPerSMean!.Value, true)],
            Error = r.TokensPerSStd,
            Annotation = r.TokensPerSVsAdamw is { } x ? $"×{x.ToString("F2", c)} AdamW" : "",
        }).ToList();
        return new BarChart
        {
            Name = "throughput", Title = "Training throughput (warm-up excluded)", YLabel = "tokens / s", Unit = "tokens/s", Bars = bars,
            Notes = Notes(rows, bars.Count, "throughput"),
        };
    }

    public static BarChart OptimizerStep(IReadOnlyList<ReportRow> rows)
    {
        var bars = rows.Where(r => r.OptimizerStepMsP50Mean is not null).Select(r => new BarItem
        {
            Label = LabelOf(r), Optimizer = r.Optimizer,
            Segments = [new BarSegment("optimizer step p50", r.OptimizerStepMsP50Mean!.Value, true)],
            Error = r.OptimizerStepMsP50Std,
        }).ToList();
        return new BarChart
        {
            Name = "optimizer_step", Title = "Optimizer step time (median)", YLabel = "optimizer step (ms, p50)", Unit = "ms", Bars = bars,
            Notes = Notes(rows, bars.Count, "optimizer step time"),
        };
    }

    /// <summary>The bar label: configuration and, in brackets, the implementation that ran.</summary>
    public static string LabelOf(ReportRow r) => r.Implementation.Length > 0 ? $"{r.Label}\n[{r.Implementation}]" : r.Label;

    private static List<string> Notes(IReadOnlyList<ReportRow> rows, int bars, string what)
    {
        var notes = new List<string>();
        if (rows.Any(r => r.Completed > 1)) notes.Add("error bars: ± sample standard deviation over seeds");
        else notes.Add("one seed per configuration: no error bars");
        var missing = rows.Where(r => r.Completed == 0).Select(r => r.Label).ToList();
        if (missing.Count > 0) notes.Add($"no completed run, no {what}: {string.Join(", ", missing)}");
        return notes;
    }
}
