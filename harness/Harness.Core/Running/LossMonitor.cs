using Harness.Results;
using Harness.Experiments.Workloads;
using static TorchSharp.torch;

namespace Harness.Core.Running;

/// <summary>
/// Watches the losses a run reads anyway (logged training losses, evaluations; no extra host sync), records the
/// ones that cross a threshold as events (<c>events.csv</c>) and decides when the run has diverged.
/// <list type="bullet">
/// <item>A training loss above <c>spike_factor</c> (k) × the median of the previous <see cref="SpikeWindow"/> logged
/// training losses is a <c>train_spike</c> (the first logged loss has nothing to compare with).</item>
/// <item>A training or evaluation loss above the limit L = <c>divergence_factor</c> × the initial evaluation loss is a
/// <c>train_above_limit</c> / <c>eval_above_limit</c> event.</item>
/// <item>Diverged: a NaN/Inf loss or parameter (at once); <c>divergence_patience</c> consecutive loss reads above L
/// (reads in step order, a training read before an evaluation read of the same step; any read at or below L ends the
/// streak); or the final evaluation above L. A spike that recovers stays an event.</item>
/// </list>
/// </summary>
public sealed class LossMonitor(LossMonitorSettings settings, double initialEvalLoss)
{
    /// <summary>Logged training losses whose median a new one is compared with.</summary>
    public const int SpikeWindow = 10;

    private readonly Queue<double> _recent = new();
    private int _streak, _streakStart;

    /// <summary>Events counted as loss spikes so far (<see cref="EventKinds.IsSpike"/>).</summary>
    public int Spikes { get; private set; }

    private double Limit => settings.DivergenceFactor * initialEvalLoss;

    /// <summary>
    /// Looks at the reads of one step (either may be null) and returns the events they raise and, when the run has
    /// diverged, why (the last event is then a <see cref="EventKinds.Diverged"/> one). With a workload, a read also
    /// checks the parameters for NaN/Inf.
    /// </summary>
    public (IReadOnlyList<EventRecord> Events, string? Diverged) Observe(int step, double? trainLoss, EvalResult? eval,
        IWorkload? workload, bool finalStep)
    {
        var events = new List<EventRecord>();
        string? why = null;
        if (trainLoss is { } l) why = Read(step, EventKinds.TrainLoss, l, events);
        if (why is null && eval is not null)
        {
            why = Read(step, EventKinds.EvalLoss, eval.Loss, events);
            if (why is null && finalStep && settings.DivergenceFactor > 0 && eval.Loss > Limit)
                why = Diverge(step, EventKinds.EvalLoss, eval.Loss, Limit,
                    $"final evaluation loss {eval.Loss:G6} is above divergence_factor {settings.DivergenceFactor:G} x initial eval loss {initialEvalLoss:G6} (= {Limit:G6})", events);
        }
        if (why is null && workload is not null && (trainLoss is not null || eval is not null))
        {
            using var scope = NewDisposeScope();
            foreach (var p in workload.Parameters)
                if (!isfinite(p.DenseValue()).all().item<bool>())
                {
                    why = Diverge(step, "", double.NaN, double.NaN, $"parameter '{p.Name}' holds NaN or Inf at step {step}", events);
                    break;
                }
        }
        Spikes += events.Count(e => EventKinds.IsSpike(e.Kind));
        return (events, why);
    }

    private string? Read(int step, string loss, double value, List<EventRecord> events)
    {
        var what = loss == EventKinds.TrainLoss ? "training" : "evaluation";
        if (!double.IsFinite(value)) return Diverge(step, loss, value, double.NaN, $"{what} loss became {value} at step {step}", events);
        var aboveLimit = settings.DivergenceFactor > 0 && value > Limit;
        if (aboveLimit)
        {
            events.Add(Event(step, loss == EventKinds.TrainLoss ? EventKinds.TrainAboveLimit : EventKinds.EvalAboveLimit, loss, value, Limit,
                $"{what} loss above divergence_factor {settings.DivergenceFactor:G} x initial eval loss {initialEvalLoss:G6}"));
            if (_streak++ == 0) _streakStart = step;
        }
        else _streak = 0;
        if (loss == EventKinds.TrainLoss)
        {
            if (!aboveLimit && settings.SpikeFactor > 0 && _recent.Count > 0 && value > settings.SpikeFactor * Median(_recent))
                events.Add(Event(step, EventKinds.TrainSpike, loss, value, settings.SpikeFactor * Median(_recent),
                    $"training loss above spike_factor {settings.SpikeFactor:G} x median {Median(_recent):G6} of the last {_recent.Count} logged"));
            _recent.Enqueue(value);
            if (_recent.Count > SpikeWindow) _recent.Dequeue();
        }
        if (_streak >= settings.DivergencePatience)
            return Diverge(step, loss, value, Limit,
                $"loss stayed above divergence_factor {settings.DivergenceFactor:G} x initial eval loss {initialEvalLoss:G6} (= {Limit:G6}) " +
                $"for {_streak} consecutive loss reads (steps {_streakStart}-{step}; last {what} loss {value:G6})", events);
        return null;
    }

    private static string Diverge(int step, string loss, double value, double threshold, string why, List<EventRecord> events)
    {
        events.Add(Event(step, EventKinds.Diverged, loss, value, threshold, why));
        return why;
    }

    private static EventRecord Event(int step, string kind, string loss, double value, double threshold, string detail) =>
        new() { Step = step, Kind = kind, Loss = loss, Value = value, Threshold = threshold, Detail = detail };

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        var n = sorted.Count;
        return n % 2 == 1 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    }
}
