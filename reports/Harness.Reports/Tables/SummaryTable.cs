using Harness.Results;
using Harness.Reports.Charts;
using Harness.Reports.Data;

namespace Harness.Reports.Tables;

/// <summary>Pure functions from run rows to the per-configuration table of the report.</summary>
public static class SummaryTable
{
    /// <summary>The table from summary rows alone (no manifests: learning rate, dtype and step mode stay unknown).</summary>
    public static IReadOnlyList<ReportRow> Build(IReadOnlyList<SummaryRow> runs) =>
        Build(runs.Select(r => new RunData(r, null, [])).ToList());

    /// <summary>
    /// Groups runs by label (in first-seen order) and aggregates completed runs. The AdamW baseline for the
    /// ratios is the completed <c>adamw</c> configuration with the lowest mean eval loss (the best-tuned
    /// baseline, so that ratios are not flattered by a weak one).
    /// </summary>
    public static IReadOnlyList<ReportRow> Build(IReadOnlyList<RunData> runs)
    {
        var rows = runs.GroupBy(r => r.Label, StringComparer.Ordinal).Select(Aggregate).ToList();
        var baseline = BaselineOf(rows);
        return rows.Select(r => r with
        {
            Baseline = ReferenceEquals(r, baseline),
            FinalEvalLossVsAdamw = Ratio(r.FinalEvalLossMean, baseline?.FinalEvalLossMean),
            StateBytesVsAdamw = Ratio(r.StateBytesMean, baseline?.StateBytesMean),
            TokensPerSVsAdamw = Ratio(r.TokensPerSMean, baseline?.TokensPerSMean),
        }).ToList();
    }

    /// <summary>The best completed AdamW configuration, or null when there is none.</summary>
    public static ReportRow? BaselineOf(IEnumerable<ReportRow> rows) =>
        rows.Where(r => r.Optimizer == "adamw" && r.Completed > 0)
            .OrderBy(r => r.FinalEvalLossMean ?? double.MaxValue).FirstOrDefault();

    private static ReportRow Aggregate(IGrouping<string, RunData> group)
    {
        var done = group.Where(r => r.Completed).ToList();
        var s = done.Select(r => r.Summary).ToList();
        return new ReportRow
        {
            Label = group.Key,
            Optimizer = group.First().Optimizer,
            Runs = group.Count(),
            Completed = done.Count,
            Statuses = string.Join(" ", group.GroupBy(r => r.Summary.Status).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key}:{g.Count()}")),
            LearningRate = group.Select(r => r.LearningRate).FirstOrDefault(l => l is not null),
            FinalEvalLossMean = Mean(s.Select(r => r.FinalEvalLoss)),
            FinalEvalLossStd = Std(s.Select(r => r.FinalEvalLoss)),
            FinalTrainLossMean = Mean(s.Select(r => r.FinalTrainLoss)),
            FinalTrainLossStd = Std(s.Select(r => r.FinalTrainLoss)),
            FinalEvalPerplexityMean = Mean(s.Select(r => r.FinalEvalPerplexity)),
            FinalEvalPerplexityStd = Std(s.Select(r => r.FinalEvalPerplexity)),
            ParamCount = group.Select(r => r.Summary.ParamCount).FirstOrDefault(p => p is not null),
            ParamElementBytes = group.Select(r => r.ParamElementBytes).FirstOrDefault(b => b is not null),
            StepMode = group.Select(r => r.StepMode).FirstOrDefault(m => m.Length > 0) ?? "",
            StateBytesMean = Mean(s.Select(r => (double?)r.StateBytes)),
            StepTransientBytesMean = Mean(s.Select(r => (double?)r.StepTransientBytes)),
            TrainStepPeakBytesMean = Mean(s.Select(r => (double?)r.TrainStepPeakBytes)),
            TokensPerSMean = Mean(s.Select(r => r.TokensPerS)),
            TokensPerSStd = Std(s.Select(r => r.TokensPerS)),
            StepMsP50Mean = Mean(s.Select(r => r.StepMsP50)),
            OptimizerStepMsP50Mean = Mean(s.Select(r => r.OptimizerStepMsP50)),
            OptimizerStepMsP50Std = Std(s.Select(r => r.OptimizerStepMsP50)),
            MaxUpdateRatio = group.Max(r => r.Summary.MaxUpdateRatio),
            LossSpikes = group.Any(r => r.Summary.LossSpikes is not null) ? group.Sum(r => r.Summary.LossSpikes ?? 0) : null,
            Implementation = string.Join("/", s.Select(r => r.Implementation).Where(i => i.Length > 0).Distinct()),
            StateDtype = string.Join("/", s.Select(r => r.StateDtype).Where(i => i.Length > 0).Distinct()),
            Device = string.Join("/", group.Select(r => r.Summary.Device).Where(d => d.Length > 0).Distinct()),
        };
    }

    public static double? Mean(IEnumerable<double?> values) => Stats.Mean(values);

    /// <summary>Sample standard deviation (n − 1); null with fewer than two values.</summary>
    public static double? Std(IEnumerable<double?> values) => Stats.Std(values);

    private static double? Ratio(double? value, double? baseline) =>
        value is { } v && baseline is { } b && b != 0 ? v / b : null;
}
