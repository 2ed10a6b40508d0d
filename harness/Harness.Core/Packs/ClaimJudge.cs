using System.Globalization;
using Harness.Reports.Claims;
using Harness.Results;
using Harness.Reports.Charts;
using Harness.Reports.Documents;

namespace Harness.Core.Packs;

/// <summary>
/// Decides a claim's verdict from stored summary rows only. Memory is exact, so <c>exact</c> and <c>ratio</c>
/// rules compare means; loss and speed are noisy, so <c>ordering</c> and <c>gap</c> use the report's rule
/// (<see cref="Findings.Rule"/>): intervals mean ± 2·SE per configuration, at least two completed seeds on each
/// side, else <c>inconclusive (seeds)</c>. At smoke scale the verdict is <c>smoke (mechanics only)</c> whatever
/// the numbers, which are still reported.
/// </summary>
public static class ClaimJudge
{
    /// <summary>Relative slack of the exact rule: byte counts are integers, a per-parameter division is not.</summary>
    public const double ExactSlack = 1e-12;

    /// <param name="rows">Summary rows of the claim's experiment at this scale (the planned runs only).</param>
    /// <param name="notRun">A reason decided before looking at results (no GPU, no experiment at this scale).</param>
    public static ClaimResult Judge(PaperClaim claim, PackScale scale, IReadOnlyList<SummaryRow> rows, string? notRun = null)
    {
        if (claim.WaitsOn() is { Count: > 0 } missing) return NotRun("needs " + string.Join(", ", missing.Select(f => f.Description)));
        if (notRun is not null) return NotRun(notRun);
        var m = claim.Measure;
        var a = Side(m.Of, rows, m);
        if (a.Problem is { } pa) return NotRun(pa);
        var b = m.Versus is { } versus ? Side(versus, rows, m) : null;
        if (b?.Problem is { } pb) return NotRun(pb);
        var meanA = a.Values.Average();
        var meanB = b?.Values.Average();
        var measured = m.Op switch
        {
            MeasureOp.Value => meanA,
            MeasureOp.Ratio => meanB is { } d && d != 0 ? meanA / d : double.NaN,
            MeasureOp.Difference => meanA - meanB!.Value,
            _ => meanB!.Value - meanA,
        } * (m.Op == MeasureOp.Ratio ? m.Scale : 1);
        var seeds = b is null ? Count(a.Values.Count) : $"{Count(a.Values.Count)} vs {Count(b.Values.Count)}";
        if (!double.IsFinite(measured)) return new ClaimResult(ClaimVerdicts.NotRun($"'{m.Versus}' measured 0: the ratio is undefined"), null, seeds, "");
        var detail = Describe(m, a, b);
        if (scale == PackScale.Smoke) return new ClaimResult(ClaimVerdicts.Smoke, measured, seeds, detail);
        var c = CultureInfo.InvariantCulture;
        switch (claim.Rule.Kind)
        {
            case RuleKind.Exact:
                var exact = Math.Abs(measured - claim.PaperValue) <= ExactSlack * Math.Max(1, Math.Abs(claim.PaperValue));
                return new ClaimResult(exact ? ClaimVerdicts.Reproduced : ClaimVerdicts.NotReproduced, measured, seeds, detail);
            case RuleKind.Ratio:
                var ratio = measured / claim.PaperValue;
                var within = Math.Abs(ratio - 1) <= claim.Rule.Tolerance!.Value;
                return new ClaimResult(within ? ClaimVerdicts.Reproduced : ClaimVerdicts.NotReproduced, measured, seeds,
                    $"{detail}; measured / paper = {ratio.ToString("G4", c)}");
        }
        // ordering and gap: both sides' seeds decide (the measure is a difference A − B).
        var (ea, eb) = (TwoSe(a.Values), TwoSe(b!.Values));
        if (ea is not { } e1 || eb is not { } e2)
            return new ClaimResult(ClaimVerdicts.Inconclusive, measured, seeds, $"{detail}; fewer than two completed seeds on one side");
        detail = $"{detail}; ±2·SE {e1.ToString("G3", c)} and {e2.ToString("G3", c)}";
        if (claim.Rule.Kind == RuleKind.Ordering)
        {
            if (!Findings.Separated(meanA, e1, meanB!.Value, e2))
                return new ClaimResult(ClaimVerdicts.Inconclusive, measured, seeds, $"{detail}; intervals overlap");
            var less = meanA < meanB.Value;
            var expected = claim.Rule.Expect == OrderingExpectation.Less;
            return new ClaimResult(less == expected ? ClaimVerdicts.Reproduced : ClaimVerdicts.NotReproduced, measured, seeds,
                $"{detail}; intervals do not overlap, {m.Of} is {(less ? "lower" : "higher")}");
        }
        var delta = claim.Rule.Delta!.Value;
        var spread = e1 + e2;
        var verdict = Math.Abs(measured) + spread <= delta ? ClaimVerdicts.Reproduced
            : Math.Abs(measured) - spread > delta ? ClaimVerdicts.NotReproduced
            : ClaimVerdicts.Inconclusive;
        return new ClaimResult(verdict, measured, seeds, $"{detail}; |gap| ± {spread.ToString("G3", c)} against delta {delta.ToString("G4", c)}");
    }

    private static ClaimResult NotRun(string reason) => new(ClaimVerdicts.NotRun(reason), null, "0", "");

    private static string Count(int n) => n.ToString(CultureInfo.InvariantCulture);

    private static double? TwoSe(IReadOnlyList<double> values) => Stats.StandardError(values.Select(v => (double?)v)) is { } se ? 2 * se : null;

    /// <summary>One configuration's per-seed values (scaled, per parameter when asked), or why there are none.</summary>
    private sealed record SideValues(string Label, IReadOnlyList<double> Values, string? Problem);

    private static SideValues Side(string label, IReadOnlyList<SummaryRow> rows, ClaimMeasure m)
    {
        var mine = rows.Where(r => r.Label == label).ToList();
        if (mine.Count == 0) return new(label, [], $"no run of '{label}'");
        var done = mine.Where(r => r.Status == Harness.Reports.Data.RunData.CompletedStatus).ToList();
        if (done.Count == 0)
        {
            var r = mine[0];
            return new(label, [], $"'{label}' {r.Status}" + (r.Message.Length > 0 ? $" ({r.Message})" : ""));
        }
        var scale = m.Op == MeasureOp.Ratio ? 1 : m.Scale;
        var values = new List<double>();
        foreach (var r in done)
        {
            if (Metric(r, m.Metric) is not { } v) continue;
            if (m.PerParam)
            {
                if (r.ParamCount is not > 0) return new(label, [], $"'{label}' has no parameter count");
                v /= r.ParamCount.Value;
            }
            values.Add(v * scale);
        }
        var metric = PackNaming.Of(m.Metric);
        return values.Count == 0
            ? new(label, [], $"'{label}' has no {metric} (not measured on {string.Join("/", done.Select(d => d.Device).Distinct())})")
            : new(label, values, null);
    }

    private static double? Metric(SummaryRow r, ClaimMetric metric) => metric switch
    {
        ClaimMetric.FinalEvalLoss => r.FinalEvalLoss,
        ClaimMetric.FinalTrainLoss => r.FinalTrainLoss,
        ClaimMetric.FinalEvalPerplexity => r.FinalEvalPerplexity,
        ClaimMetric.StateBytes => r.StateBytes,
        ClaimMetric.StepTransientBytes => r.StepTransientBytes,
        ClaimMetric.TrainStepPeakBytes => r.TrainStepPeakBytes,
        ClaimMetric.ReservedBytes => r.ReservedBytes,
        ClaimMetric.TokensPerS => r.TokensPerS,
        ClaimMetric.StepMsP50 => r.StepMsP50,
        ClaimMetric.OptimizerStepMsP50 => r.OptimizerStepMsP50,
        _ => r.ParamCount,
    };

    private static string Describe(ClaimMeasure m, SideValues a, SideValues? b)
    {
        var c = CultureInfo.InvariantCulture;
        string One(SideValues s) => $"{s.Label} {s.Values.Average().ToString("G6", c)}";
        var metric = PackNaming.Of(m.Metric) + (m.PerParam ? " per parameter" : "");
        return b is null ? $"{metric}: {One(a)}" : $"{metric}: {One(a)} vs {One(b)}";
    }
}
