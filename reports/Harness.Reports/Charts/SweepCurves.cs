using System.Globalization;
using Harness.Reports.Data;

namespace Harness.Reports.Charts;

/// <summary>
/// Learning-rate sweeps: final loss against the configured learning rate (log x), one line per optimizer
/// configuration that differs only in lr, the best point marked, and a warning when the best value sits at
/// the edge of the swept range (the optimum may lie outside it).
/// </summary>
public static class SweepCurves
{
    /// <summary>The chart, or null when no configuration was run at two or more learning rates.</summary>
    public static LineChart? Build(IReadOnlyList<RunData> runs)
    {
        var c = CultureInfo.InvariantCulture;
        var series = new List<LineSeries>();
        var notes = new List<string>();
        var variants = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var group in runs.Where(r => r.LearningRate is > 0).GroupBy(r => (r.Optimizer, Family: FamilyOf(r.Label))))
        {
            var byLr = group.GroupBy(r => r.LearningRate!.Value).OrderBy(g => g.Key).ToList();
            if (byLr.Count < 2) continue;
            var points = new List<LinePoint>();
            foreach (var lr in byLr)
            {
                var losses = lr.Where(r => r.Completed).Select(r => r.Summary.FinalEvalLoss ?? r.Summary.FinalTrainLoss)
                    .OfType<double>().Where(double.IsFinite).ToList();
                var failed = lr.Where(r => !r.Completed).ToList();
                if (failed.Count > 0)
                    notes.Add($"{group.Key.Family} lr={lr.Key.ToString("G4", c)}: {string.Join(", ", failed.Select(f => $"seed {f.Summary.Seed} {f.Summary.Status}"))}");
                if (losses.Count > 0) points.Add(new LinePoint(lr.Key, losses.Average(), losses.Min(), losses.Max()));
            }
            if (points.Count == 0) continue;
            var best = points.MinBy(p => p.Y)!;
            var (lo, hi) = (byLr[0].Key, byLr[^1].Key);
            if (best.X == lo || best.X == hi)
                notes.Add($"WARNING {group.Key.Family}: best lr {best.X.ToString("G4", c)} is at the {(best.X == lo ? "low" : "high")} edge of the swept range [{lo.ToString("G4", c)}, {hi.ToString("G4", c)}]; the optimum may lie outside it");
            var variant = variants[group.Key.Optimizer] = variants.TryGetValue(group.Key.Optimizer, out var v) ? v + 1 : 0;
            var seeds = group.Where(r => r.Completed).GroupBy(r => r.LearningRate).Max(g => g.Count());
            series.Add(new LineSeries
            {
                Label = $"{group.Key.Family} (best lr {best.X.ToString("G4", c)})", Optimizer = group.Key.Optimizer,
                Points = points, Seeds = seeds, Variant = variant, Best = best,
                BandLabel = seeds > 1 ? $"{group.Key.Family}: min–max over seeds" : null,
            });
        }
        if (series.Count == 0) return null;
        notes.Insert(0, "y: final eval loss (final training loss where a run has no eval), mean over completed seeds; ◆ marks the best lr");
        return new LineChart
        {
            Name = "lr_sweep", Title = "Final loss vs learning rate", XLabel = "peak learning rate (log scale)",
            YLabel = "final loss", LogX = true, Series = series, Notes = notes,
        };
    }

    /// <summary>The label without its <c>lr=…</c> sweep part: configurations that differ only in lr share it.</summary>
    public static string FamilyOf(string label) =>
        string.Join(" ", label.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(t => !t.StartsWith("lr=", StringComparison.Ordinal)));
}
