using Harness.Core.Results;

namespace Harness.Reports.Tables;

/// <summary>Pure functions from run rows to the per-configuration table of the report.</summary>
public static class SummaryTable
{
    /// <summary>
    /// Groups runs by label (in first-seen order) and aggregates completed runs. The AdamW baseline for the
    /// ratios is the completed <c>adamw</c> configuration with the lowest mean eval loss (the best-tuned
    /// baseline, so that ratios are not flattered by a weak one).
    /// </summary>
    public static IReadOnlyList<ReportRow> Build(IReadOnlyList<SummaryRow> runs)
    {
        var rows = runs.GroupBy(r => r.Label, StringComparer.Ordinal).Select(Aggregate).ToList();
        var baseline = rows.Where(r => r.Optimizer == "adamw" && r.Completed > 0)
            .OrderBy(r => r.FinalEvalLossMean ?? double.MaxValue).FirstOrDefault();
        return rows.Select(r => r with
        {
            StateBytesVsAdamw = Ratio(r.StateBytesMean, baseline?.StateBytesMean),
            TokensPerSVsAdamw = Ratio(r.TokensPerSMean, baseline?.TokensPerSMean),
        }).ToList();
    }

    private static ReportRow Aggregate(IGrouping<string, SummaryRow> group)
    {
        var done = group.Where(r => r.Status == "completed").ToList();
        return new ReportRow
        {
            Label = group.Key,
            Optimizer = group.First().Optimizer,
            Runs = group.Count(),
            Completed = done.Count,
            Statuses = string.Join(" ", group.GroupBy(r => r.Status).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key}:{g.Count()}")),
            FinalEvalLossMean = Mean(done.Select(r => r.FinalEvalLoss)),
            FinalEvalLossStd = Std(done.Select(r => r.FinalEvalLoss)),
            FinalTrainLossMean = Mean(done.Select(r => r.FinalTrainLoss)),
            FinalEvalPerplexityMean = Mean(done.Select(r => r.FinalEvalPerplexity)),
            StateBytesMean = Mean(done.Select(r => (double?)r.StateBytes)),
            TokensPerSMean = Mean(done.Select(r => r.TokensPerS)),
            StepMsP50Mean = Mean(done.Select(r => r.StepMsP50)),
            OptimizerStepMsP50Mean = Mean(done.Select(r => r.OptimizerStepMsP50)),
            Implementation = string.Join("/", done.Select(r => r.Implementation).Distinct()),
            Device = string.Join("/", group.Select(r => r.Device).Where(d => d.Length > 0).Distinct()),
        };
    }

    public static double? Mean(IEnumerable<double?> values)
    {
        var v = values.OfType<double>().ToList();
        return v.Count == 0 ? null : v.Average();
    }

    /// <summary>Sample standard deviation (n − 1); null with fewer than two values.</summary>
    public static double? Std(IEnumerable<double?> values)
    {
        var v = values.OfType<double>().ToList();
        if (v.Count < 2) return null;
        var mean = v.Average();
        return Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Count - 1));
    }

    private static double? Ratio(double? value, double? baseline) =>
        value is { } v && baseline is { } b && b != 0 ? v / b : null;
}
