namespace Harness.Core.Checkpoints;

/// <summary>
/// What the runner needs besides tensors to continue a run exactly where it stopped: the step, the
/// evaluations so far and the running totals behind <c>metrics.csv</c>.
/// </summary>
public sealed record CheckpointProgress
{
    public required int Step { get; init; }
    public required double InitialEvalLoss { get; init; }
    public double? InitialEvalPerplexity { get; init; }
    public double? InitialEvalAccuracy { get; init; }
    public required double LastEvalLoss { get; init; }
    public double? LastEvalPerplexity { get; init; }
    public double? LastEvalAccuracy { get; init; }
    public double? LastTrainLoss { get; init; }
    public double TrainSeconds { get; init; }
    public double EvalSeconds { get; init; }
}
