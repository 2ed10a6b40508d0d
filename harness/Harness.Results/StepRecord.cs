namespace Harness.Results;

/// <summary>
/// One row of <c>steps.csv</c>: written on log steps and evaluation steps, flushed at once. Step 0 is the
/// evaluation before training; step k is after k optimizer updates. Every column is deterministic (same
/// config and seed on CPU, same bytes); wall-clock time lives in <c>timing.csv</c> (<see cref="TimingRecord"/>).
/// </summary>
public sealed record StepRecord
{
    public int Step { get; init; }
    public long Tokens { get; init; }
    public double Lr { get; init; }
    public double? TrainLoss { get; init; }
    public double? EvalLoss { get; init; }
    public double? EvalPerplexity { get; init; }
    public double? EvalAccuracy { get; init; }
}
