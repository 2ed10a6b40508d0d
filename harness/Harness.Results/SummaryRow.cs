namespace Harness.Results;

/// <summary>One row of <c>runs/&lt;experiment&gt;/summary.csv</c>: one run, its status and its headline numbers.</summary>
public sealed record SummaryRow
{
    public string RunId { get; init; } = "";
    public string Experiment { get; init; } = "";
    public string Optimizer { get; init; } = "";
    public string Label { get; init; } = "";
    public int Seed { get; init; }
    public string Status { get; init; } = "";
    public int Steps { get; init; }
    public double? FinalTrainLoss { get; init; }
    public double? FinalEvalLoss { get; init; }
    public double? InitialEvalLoss { get; init; }
    public double? FinalEvalPerplexity { get; init; }
    public long? StateBytes { get; init; }
    /// <summary>Bytes of the stored model weights (<see cref="MetricNames.WeightBytes"/>).</summary>
    public long? WeightBytes { get; init; }
    public long? StepTransientBytes { get; init; }
    public long? TrainStepPeakBytes { get; init; }
    public long? ReservedBytes { get; init; }
    public double? TokensPerS { get; init; }
    public double? StepMsP50 { get; init; }
    public double? StepMsP90 { get; init; }
    public double? OptimizerStepMsP50 { get; init; }
    public long? ParamCount { get; init; }
    /// <summary>The largest |Δp| / lr of the run (logged steps, every role); null for runs from before it was measured.</summary>
    [CsvHelper.Configuration.Attributes.Optional]
    public double? MaxUpdateRatio { get; init; }
    /// <summary>Events counted as loss spikes (see <c>events.csv</c>); optional on read, as summaries written before it lack it.</summary>
    [CsvHelper.Configuration.Attributes.Optional]
    public int? LossSpikes { get; init; }
    public string Implementation { get; init; } = "";
    public string StateDtype { get; init; } = "";
    public string Device { get; init; } = "";
    public string Sweep { get; init; } = "";
    public string Message { get; init; } = "";
}
