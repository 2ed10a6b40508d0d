namespace Harness.Core.Results;

/// <summary>
/// One row of <c>steps.csv</c>: written on log steps and evaluation steps, flushed at once. Step 0 is the
/// evaluation before training; step k is after k optimizer updates.
/// </summary>
public sealed record StepRecord
{
    public int Step { get; init; }
    public long Tokens { get; init; }
    /// <summary>Training time so far (evaluation excluded), seconds.</summary>
    public double ElapsedS { get; init; }
    public double Lr { get; init; }
    public double? TrainLoss { get; init; }
    public double? EvalLoss { get; init; }
    public double? EvalPerplexity { get; init; }
    public double? EvalAccuracy { get; init; }
}
