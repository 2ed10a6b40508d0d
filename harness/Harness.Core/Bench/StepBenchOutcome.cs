using Harness.Results;

namespace Harness.Core.Bench;

/// <summary>One configuration of a <see cref="StepBenchSweep"/>: its measurement, or the first line of why it failed.</summary>
public sealed record StepBenchOutcome(string ParameterSet, string Optimizer, string Implementation, StepBenchResult? Result, string? Error);
