using System.Globalization;
using Harness.Reports.Tables;

namespace Harness.Reports.Charts;

/// <summary>
/// Memory per configuration as stacked bars: parameters, gradients, optimizer state, step transient and the
/// rest of the training-step peak. Parameters and gradients are the closed form param_count × element bytes
/// (computed, said so in the legend); the others are measurements and are left out, with a note, where the
/// device has none (CPU has no allocator statistics). Nothing is estimated.
/// </summary>
public static class MemoryBars
{
    public const string Parameters = "parameters (computed)";
    public const string Gradients = "gradients (computed)";
    public const string State = "optimizer state (measured)";
    public const string Transient = "step transient (measured)";
    public const string OtherPeak = "other peak (measured)";

    public static BarChart Build(IReadOnlyList<ReportRow> rows)
    {
        var notes = new List<string>();
        var done = rows.Where(r => r.Completed > 0).ToList();
        var bytes = done.Select(r => (Row: r, Segments: Segments(r, notes))).Where(b => b.Segments.Count > 0).ToList();
        var (unit, size) = Stats.ByteUnit(bytes.Select(b => b.Segments.Sum(s => s.Value)).DefaultIfEmpty(0).Max());
        var baseline = bytes.FirstOrDefault(b => b.Row.Baseline);
        var bars = bytes.Select(b => new BarItem
        {
            Label = b.Row.Label,
            Optimizer = b.Row.Optimizer,
            Segments = b.Segments.Select(s => s with { Value = s.Value / size }).ToList(),
            Annotation = Annotation(b.Segments, baseline.Segments, b.Row),
        }).ToList();
        if (done.Count > 0 && done.All(r => r.StepTransientBytesMean is null))
            notes.Add("step transient and other peak: not measured on this device (no allocator statistics), left out");
        if (bars.Any(b => b.Segments.Any(s => !s.Measured)))
            notes.Add("parameters and gradients are computed as param_count × bytes per element of the training dtype, not measured");
        if (baseline.Row is null) notes.Add("no completed AdamW configuration: no ratios printed");
        else notes.Add($"ratio on each bar: its total over the AdamW baseline ({baseline.Row.Label}) total, when both show the same parts");
        return new BarChart { Name = "memory", Title = "Memory per configuration", YLabel = $"memory ({unit})", Unit = unit, Bars = bars, Notes = notes.Distinct().ToList() };
    }

    private static List<BarSegment> Segments(ReportRow r, List<string> notes)
    {
        var list = new List<BarSegment>();
        double? paramBytes = r.ParamCount is { } n && r.ParamElementBytes is { } e ? (double)n * e : null;
        if (paramBytes is { } p)
        {
            list.Add(new BarSegment(Parameters, p, false));
            if (r.StepMode == "standard") list.Add(new BarSegment(Gradients, p, false));
            else notes.Add($"{r.Label}: gradients left out (step mode '{r.StepMode}' does not hold a full gradient, or it is unknown)");
        }
        else notes.Add($"{r.Label}: parameters and gradients left out (parameter count or dtype unknown)");
        if (r.StateBytesMean is { } state) list.Add(new BarSegment(State, state, true));
        if (r.StepTransientBytesMean is { } t) list.Add(new BarSegment(Transient, t, true));
        if (r.TrainStepPeakBytesMean is { } peak)
        {
            var rest = peak - list.Sum(s => s.Value);
            if (rest > 0) list.Add(new BarSegment(OtherPeak, rest, true));
        }
        return list;
    }

    private static string Annotation(List<BarSegment> segments, List<BarSegment>? baseline, ReportRow row)
    {
        var c = CultureInfo.InvariantCulture;
        if (baseline is null) return "";
        var same = segments.Select(s => s.Name).SequenceEqual(baseline.Select(s => s.Name));
        var total = same ? $"×{(segments.Sum(s => s.Value) / baseline.Sum(s => s.Value)).ToString("F2", c)} AdamW" : "";
        var state = row.StateBytesVsAdamw is { } r ? $"state ×{r.ToString("F2", c)}" : "";
        return string.Join("\n", new[] { total, state }.Where(t => t.Length > 0));
    }
}
