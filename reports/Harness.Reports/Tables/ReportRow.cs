namespace Harness.Reports.Tables;

/// <summary>
/// One optimizer configuration (label) aggregated over its seeds: mean and sample standard deviation of
/// the headline numbers over the completed runs, and ratios to the AdamW baseline.
/// </summary>
public sealed record ReportRow
{
    public string Label { get; init; } = "";
    public string Optimizer { get; init; } = "";
    public int Runs { get; init; }
    public int Completed { get; init; }
    public string Statuses { get; init; } = "";
    public double? FinalEvalLossMean { get; init; }
    public double? FinalEvalLossStd { get; init; }
    public double? FinalTrainLossMean { get; init; }
    public double? FinalEvalPerplexityMean { get; init; }
    public double? StateBytesMean { get; init; }
    public double? StateBytesVsAdamw { get; init; }
    public double? TokensPerSMean { get; init; }
    public double? TokensPerSVsAdamw { get; init; }
    public double? StepMsP50Mean { get; init; }
    public double? OptimizerStepMsP50Mean { get; init; }
    public string Implementation { get; init; } = "";
    public string Device { get; init; } = "";
}
