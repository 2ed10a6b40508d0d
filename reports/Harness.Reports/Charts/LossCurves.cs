using Harness.Results;
using Harness.Reports.Data;

namespace Harness.Reports.Charts;

/// <summary>
/// Loss curves: one line per configuration, the mean over its completed seeds at each logged step with a
/// min–max band when there are several; every run that did not complete is drawn on its own line, marked
/// with its status, up to its last finite value. Each run's loss events (<c>events.csv</c>: spikes, reads above the
/// divergence limit) of the chart's loss are markers at the run's own value.
/// </summary>
public static class LossCurves
{
    public static LineChart Build(IReadOnlyList<RunData> runs, LossAxis axis, bool eval, bool logX = false)
    {
        Func<StepRecord, double?> metric = eval ? s => s.EvalLoss : s => s.TrainLoss;
        Func<RunData, StepRecord, double> x = axis switch
        {
            LossAxis.Step => (_, s) => s.Step,
            LossAxis.Tokens => (_, s) => s.Tokens,
            _ => (r, s) => r.ElapsedAt(s.Step),
        };
        var notes = new List<string>();
        var series = new List<LineSeries>();
        var variants = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var group in runs.GroupBy(r => r.Label, StringComparer.Ordinal))
        {
            var optimizer = group.First().Optimizer;
            var variant = variants[optimizer] = variants.TryGetValue(optimizer, out var v) ? v + 1 : 0;
            var done = group.Where(r => r.Completed && r.Steps.Count > 0).ToList();
            if (done.Count > 0)
            {
                var points = Aggregate(done, metric, x, logX);
                if (points.Count > 0)
                    series.Add(new LineSeries
                    {
                        Label = done.Count > 1 ? $"{group.Key} (mean of {done.Count} seeds)" : group.Key,
                        Optimizer = optimizer, Points = points, Seeds = done.Count, Variant = variant,
                        BandLabel = done.Count > 1 ? $"{group.Key}: min–max over {done.Count} seeds" : null,
                    });
            }
            foreach (var run in group.Where(r => !r.Completed))
            {
                var points = run.Steps.Where(s => metric(s) is { } y && double.IsFinite(y) && Usable(x(run, s), logX))
                    .Select(s => new LinePoint(x(run, s), metric(s)!.Value, metric(s)!.Value, metric(s)!.Value)).ToList();
                if (points.Count > 0)
                    series.Add(new LineSeries
                    {
                        Label = $"{group.Key} seed {run.Summary.Seed} ({run.Summary.Status})",
                        Optimizer = optimizer, Points = points, Incomplete = run.Summary.Status, Variant = variant,
                    });
                notes.Add($"{group.Key} seed {run.Summary.Seed}: {run.Summary.Status}" +
                          (run.Summary.Message.Length > 0 ? $" ({run.Summary.Message})" : "") +
                          (points.Count > 0 ? "; drawn up to its last finite value, marked ×" : "; no finite values to draw"));
            }
        }
        var markers = Markers(runs, eval, x, logX);
        if (markers.Count > 0)
            notes.Add($"{markers.Count} loss event(s) marked ▲ (events.csv): " + string.Join("; ", markers.Select(m => m.Label)));
        if (logX) notes.Add("log x axis: points at x ≤ 0 (the evaluation before training) are left out");
        var (what, xLabel) = axis switch
        {
            LossAxis.Step => ("step", "step"),
            LossAxis.Tokens => ("tokens", "tokens seen"),
            _ => ("wall-clock", "training time (s, evaluation excluded)"),
        };
        var kind = eval ? "Eval" : "Training";
        return new LineChart
        {
            Name = $"loss_{(eval ? "eval" : "train")}_vs_{axis.ToString().ToLowerInvariant()}{(logX ? "_logx" : "")}",
            Title = $"{kind} loss vs {what}",
            XLabel = xLabel, YLabel = $"{kind.ToLowerInvariant()} loss", LogX = logX, Series = series, Notes = notes, Markers = markers,
        };
    }

    private static List<ChartMarker> Markers(IReadOnlyList<RunData> runs, bool eval, Func<RunData, StepRecord, double> x, bool logX)
    {
        var loss = eval ? EventKinds.EvalLoss : EventKinds.TrainLoss;
        var markers = new List<ChartMarker>();
        foreach (var run in runs)
        {
            var rows = run.Steps.GroupBy(s => s.Step).ToDictionary(g => g.Key, g => g.Last());
            // The read that ended a run is already marked (its own event at the same point, or the run's ×).
            foreach (var e in run.Events.Where(e => e.Loss == loss && e.Kind != EventKinds.Diverged && double.IsFinite(e.Value)))
            {
                if (!rows.TryGetValue(e.Step, out var row)) continue;
                var at = x(run, row);
                if (!Usable(at, logX)) continue;
                markers.Add(new ChartMarker(at, e.Value, run.Optimizer, e.Kind,
                    $"{run.Label} seed {run.Summary.Seed} {e.Kind} {e.Value:G4} at step {e.Step}"));
            }
        }
        return markers;
    }

    private static bool Usable(double x, bool logX) => double.IsFinite(x) && (!logX || x > 0);

    /// <summary>
    /// Points at the steps every seed logged; x is the mean over seeds (wall-clock differs between seeds;
    /// step and tokens do not).
    /// </summary>
    private static List<LinePoint> Aggregate(List<RunData> runs, Func<StepRecord, double?> metric, Func<RunData, StepRecord, double> x, bool logX)
    {
        var perRun = runs.Select(r => r.Steps.Where(s => metric(s) is { } y && double.IsFinite(y))
            .GroupBy(s => s.Step).ToDictionary(g => g.Key, g => g.Last())).ToList();
        var common = perRun.Skip(1).Aggregate(new SortedSet<int>(perRun[0].Keys), (set, d) => { set.IntersectWith(d.Keys); return set; });
        var points = new List<LinePoint>();
        foreach (var step in common)
        {
            var recs = perRun.Select(d => d[step]).ToList();
            var xs = runs.Zip(recs).Average(p => x(p.First, p.Second));
            if (!Usable(xs, logX)) continue;
            var ys = recs.Select(r => metric(r)!.Value).ToList();
            points.Add(new LinePoint(xs, ys.Average(), ys.Min(), ys.Max()));
        }
        return points;
    }
}
