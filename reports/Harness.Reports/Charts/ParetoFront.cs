using Harness.Reports.Tables;

namespace Harness.Reports.Charts;

/// <summary>Final eval loss against optimizer state memory, with the Pareto frontier (lower is better on both).</summary>
public static class ParetoFront
{
    public static ParetoChart Build(IReadOnlyList<ReportRow> rows)
    {
        var usable = rows.Where(r => r.FinalEvalLossMean is { } l && double.IsFinite(l) && r.StateBytesMean is not null).ToList();
        var (unit, size) = Stats.ByteUnit(usable.Select(r => r.StateBytesMean!.Value).DefaultIfEmpty(0).Max());
        var raw = usable.Select(r => new ParetoPoint(r.Label, r.Optimizer, r.StateBytesMean!.Value / size, r.FinalEvalLossMean!.Value, false)).ToList();
        var frontier = Frontier(raw);
        var onFront = frontier.Select(p => p.Label).ToHashSet(StringComparer.Ordinal);
        var notes = new List<string> { "frontier: configurations that no other beats on both state memory and final eval loss" };
        var left = rows.Where(r => !usable.Contains(r)).Select(r => r.Label).ToList();
        if (left.Count > 0) notes.Add($"left out (no completed run with a finite eval loss and state size): {string.Join(", ", left)}");
        return new ParetoChart
        {
            Name = "pareto", Title = "Final eval loss vs optimizer state memory",
            XLabel = $"optimizer state ({unit})", YLabel = "final eval loss (mean over seeds)",
            Points = raw.Select(p => p with { OnFrontier = onFront.Contains(p.Label) }).ToList(),
            Frontier = frontier.Select(p => p with { OnFrontier = true }).ToList(), Notes = notes,
        };
    }

    /// <summary>
    /// The non-dominated points (minimising both X and Y), ordered by X: sweep by increasing X (ties by Y)
    /// and keep each point whose Y is strictly below every Y kept so far.
    /// </summary>
    public static IReadOnlyList<ParetoPoint> Frontier(IEnumerable<ParetoPoint> points)
    {
        var front = new List<ParetoPoint>();
        foreach (var p in points.OrderBy(p => p.X).ThenBy(p => p.Y))
            if (front.Count == 0 || p.Y < front[^1].Y) front.Add(p);
        return front;
    }
}
