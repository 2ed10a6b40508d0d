using Harness.Results;

namespace Harness.Core.Meters;

/// <summary>
/// Step time (p50/p90), optimizer step time (p50) and steady-state throughput, over the timed steps only
/// (the warm-up is excluded); the first step, which pays for lazy state and kernel set-up, is reported
/// on its own.
/// </summary>
public sealed class TimingMeter(string throughputUnit, string method = "host clock") : IMeter
{
    private readonly List<double> _stepSeconds = [];
    private readonly List<double> _optimizerSeconds = [];
    private long _timedTokens;
    private double? _firstStepSeconds;

    public void OnStepEnd(StepContext step)
    {
        _firstStepSeconds ??= step.StepSeconds;
        if (!step.Timed) return;
        _stepSeconds.Add(step.StepSeconds);
        if (step.OptimizerSeconds is { } o) _optimizerSeconds.Add(o);
        _timedTokens += step.Tokens;
    }

    public IEnumerable<MetricRecord> Collect()
    {
        var total = _stepSeconds.Sum();
        var note = $"{_stepSeconds.Count} timed steps after the warm-up; {method}";
        yield return new() { Name = MetricNames.TokensPerS, Value = total > 0 ? _timedTokens / total : null, Unit = $"{throughputUnit}/s", Note = note };
        yield return new() { Name = MetricNames.StepMsP50, Value = Percentiles.Of(_stepSeconds, 0.5) * 1e3, Unit = "ms", Note = note };
        yield return new() { Name = MetricNames.StepMsP90, Value = Percentiles.Of(_stepSeconds, 0.9) * 1e3, Unit = "ms", Note = note };
        yield return new() { Name = MetricNames.OptimizerStepMsP50, Value = Percentiles.Of(_optimizerSeconds, 0.5) * 1e3, Unit = "ms", Note = $"{_optimizerSeconds.Count} steps, synchronised before and after the step" };
        yield return new() { Name = MetricNames.FirstStepMs, Value = _firstStepSeconds * 1e3, Unit = "ms", Note = "step 1, lazy state creation included" };
    }
}
