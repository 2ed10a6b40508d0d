using Harness.Results;

namespace Harness.Core.Meters;

/// <summary>What a meter sees after each optimizer update.</summary>
/// <param name="Step">1-based index of the update.</param>
/// <param name="StepSeconds">Wall time of the whole training step (forward, backward, step) on the device's timeline.</param>
/// <param name="OptimizerSeconds">Wall time of the optimizer step alone, when it was measured (logged steps on CUDA, every step on CPU).</param>
/// <param name="Tokens">Tokens (or samples) processed by the step.</param>
/// <param name="Timed">False during the timing warm-up, whose steps are excluded from speed statistics.</param>
public sealed record StepContext(int Step, double StepSeconds, double? OptimizerSeconds, long Tokens, bool Timed);

/// <summary>A measurement that accumulates over a run and reports final metrics (BenchmarkDotNet-style: meters only collect).</summary>
public interface IMeter
{
    void OnStepEnd(StepContext step);
    IEnumerable<MetricRecord> Collect();
}
