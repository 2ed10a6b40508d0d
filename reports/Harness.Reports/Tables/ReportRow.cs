namespace Harness.Reports.Tables;

/// <summary>
/// One optimizer configuration (label) aggregated over its seeds: mean and sample standard deviation (the
/// spread) of the headline numbers over the completed runs, and ratios to the AdamW baseline. Bytes and
/// seconds stay in base units; renderers convert.
/// </summary>
public sealed record ReportRow
{
    public string Label { get; init; } = "";
    public string Optimizer { get; init; } = "";
    public int Runs { get; init; }
    public int Completed { get; init; }
    public string Statuses { get; init; } = "";
    /// <summary>True for the AdamW configuration the ratios divide by.</summary>
    public bool Baseline { get; init; }
    public double? LearningRate { get; init; }
    public double? FinalEvalLossMean { get; init; }
    public double? FinalEvalLossStd { get; init; }
    public double? FinalEvalLossVsAdamw { get; init; }
    public double? FinalTrainLossMean { get; init; }
    public double? FinalTrainLossStd { get; init; }
    public double? FinalEvalPerplexityMean { get; init; }
    public double? FinalEvalPerplexityStd { get; init; }
    public long? ParamCount { get; init; }
    /// <summary>Bytes per parameter element of the training dtype (from the spec); null when unknown.</summary>
    public int? ParamElementBytes { get; init; }
    public string StepMode { get; init; } = "";
    /// <summary>M1, exact (not noisy): mean only.</summary>
    public double? StateBytesMean { get; init; }
    public double? StateBytesVsAdamw { get; init; }
    public double? StepTransientBytesMean { get; init; }
    public double? TrainStepPeakBytesMean { get; init; }
    public double? TokensPerSMean { get; init; }
    public double? TokensPerSStd { get; init; }
    public double? TokensPerSVsAdamw { get; init; }
    public double? StepMsP50Mean { get; init; }
    public double? OptimizerStepMsP50Mean { get; init; }
    public double? OptimizerStepMsP50Std { get; init; }
    /// <summary>The largest |Δp| / lr over every run of the configuration (completed or not); null when none measured it.</summary>
    public double? MaxUpdateRatio { get; init; }
    /// <summary>Loss spikes (events.csv) summed over every run of the configuration; null when none recorded them.</summary>
    public int? LossSpikes { get; init; }
    public string Implementation { get; init; } = "";
    public string StateDtype { get; init; } = "";
    public string Device { get; init; } = "";
}
