using Harness.Core.Packs;
using Harness.Results;
using Harness.Reports.Claims;

namespace Harness.Tests.Packs;

/// <summary>Every verdict rule both ways on hand-made summary rows, with the numbers worked out by hand.</summary>
public sealed class ClaimJudgeTests
{
    private static SummaryRow Row(string label, int seed, double? loss = null, long? state = null, long parameters = 1000,
        string status = "completed", string message = "", double? tokensPerS = null) => new()
    {
        RunId = $"{label}-{seed}", Label = label, Optimizer = label, Seed = seed, Status = status, Message = message,
        FinalEvalLoss = loss, StateBytes = state, ParamCount = parameters, TokensPerS = tokensPerS, Device = "cpu",
    };

    private static PaperClaim Claim(ClaimMeasure measure, ClaimRule rule, double paperValue = 0, params string[] needs) => new()
    {
        Id = "c", Statement = "s", PaperValue = paperValue, Unit = "u", Source = "Table 1", Url = "https://example.org",
        Experiment = "e", Measure = measure, Rule = rule, Needs = needs,
    };

    private static readonly ClaimMeasure LossGap = new() { Metric = ClaimMetric.FinalEvalLoss, Of = "a", Versus = "b", Op = MeasureOp.Difference };

    private static ClaimResult Judge(PaperClaim claim, IReadOnlyList<SummaryRow> rows, PackScale scale = PackScale.Reduced) =>
        ClaimJudge.Judge(claim, scale, rows);

    [Fact]
    public void Exact_bytes_per_parameter_reproduce_only_when_equal()
    {
        var claim = Claim(new ClaimMeasure { Metric = ClaimMetric.StateBytes, Of = "a", PerParam = true }, new ClaimRule { Kind = RuleKind.Exact }, 8);
        var yes = Judge(claim, [Row("a", 0, state: 8000)]);
        Assert.Equal((ClaimVerdicts.Reproduced, 8.0, "1"), (yes.Verdict, yes.Measured!.Value, yes.Seeds));
        var no = Judge(claim, [Row("a", 0, state: 8004)]);
        Assert.Equal((ClaimVerdicts.NotReproduced, 8.004), (no.Verdict, no.Measured!.Value));
    }

    [Fact]
    public void Ratio_within_the_tolerance_reproduces_and_outside_it_does_not()
    {
        var claim = Claim(new ClaimMeasure { Metric = ClaimMetric.StateBytes, Of = "a", Versus = "b", Op = MeasureOp.Ratio },
            new ClaimRule { Kind = RuleKind.Ratio, Tolerance = 0.1 }, 0.5);
        var yes = Judge(claim, [Row("a", 0, state: 540), Row("b", 0, state: 1000)]);   // 0.54 / 0.5 = 1.08
        Assert.Equal(ClaimVerdicts.Reproduced, yes.Verdict);
        Assert.Equal(0.54, yes.Measured!.Value, 12);
        Assert.Equal("1 vs 1", yes.Seeds);
        var no = Judge(claim, [Row("a", 0, state: 560), Row("b", 0, state: 1000)]);    // 0.56 / 0.5 = 1.12
        Assert.Equal(ClaimVerdicts.NotReproduced, no.Verdict);
    }

    [Fact]
    public void Saved_per_parameter_with_a_unit_scale_gives_the_papers_unit()
    {
        // (8000 − 1000) bytes / 1000 params = 7 B/param; × 1e9 / 2^30 = 6.519 GiB per 1e9 params.
        var claim = Claim(new ClaimMeasure { Metric = ClaimMetric.StateBytes, Of = "gefen", Versus = "adamw", Op = MeasureOp.Saved, PerParam = true, Scale = 1e9 / (1L << 30) },
            new ClaimRule { Kind = RuleKind.Ratio, Tolerance = 0.05 }, 6.5);
        var r = Judge(claim, [Row("gefen", 0, state: 1000), Row("adamw", 0, state: 8000)]);
        Assert.Equal(7e9 / (1L << 30), r.Measured!.Value, 9);
        Assert.Equal(ClaimVerdicts.Reproduced, r.Verdict);
    }

    [Fact]
    public void Ordering_needs_separated_intervals_in_the_claimed_direction()
    {
        var claim = Claim(LossGap, new ClaimRule { Kind = RuleKind.Ordering, Expect = OrderingExpectation.Less }, -0.2);
        // a: 3.00, 3.02 (mean 3.01, std 0.01414, 2·SE 0.02); b: 3.20, 3.22 (mean 3.21): apart, a lower.
        SummaryRow[] apart = [Row("a", 0, 3.00), Row("a", 1, 3.02), Row("b", 0, 3.20), Row("b", 1, 3.22)];
        var yes = Judge(claim, apart);
        Assert.Equal((ClaimVerdicts.Reproduced, "2 vs 2"), (yes.Verdict, yes.Seeds));
        Assert.Equal(-0.2, yes.Measured!.Value, 12);
        var reversed = Claim(LossGap, new ClaimRule { Kind = RuleKind.Ordering, Expect = OrderingExpectation.Greater }, 0.2);
        Assert.Equal(ClaimVerdicts.NotReproduced, Judge(reversed, apart).Verdict);
        // b: 3.00, 3.04 (mean 3.02, 2·SE 0.04): [2.99, 3.03] and [2.98, 3.06] overlap.
        Assert.Equal(ClaimVerdicts.Inconclusive, Judge(claim, [Row("a", 0, 3.00), Row("a", 1, 3.02), Row("b", 0, 3.00), Row("b", 1, 3.04)]).Verdict);
    }

    [Fact]
    public void Ordering_and_gap_with_one_seed_are_inconclusive_but_keep_the_measured_value()
    {
        SummaryRow[] one = [Row("a", 0, 3.0), Row("b", 0, 3.5)];
        var ordering = Judge(Claim(LossGap, new ClaimRule { Kind = RuleKind.Ordering, Expect = OrderingExpectation.Less }), one);
        var gap = Judge(Claim(LossGap, new ClaimRule { Kind = RuleKind.Gap, Delta = 1.0 }), one);
        foreach (var r in new[] { ordering, gap })
        {
            Assert.Equal(ClaimVerdicts.Inconclusive, r.Verdict);
            Assert.Equal(-0.5, r.Measured!.Value, 12);
            Assert.Equal("1 vs 1", r.Seeds);
        }
    }

    [Fact]
    public void Gap_reproduces_within_delta_fails_beyond_it_and_is_inconclusive_across_it()
    {
        var claim = Claim(LossGap, new ClaimRule { Kind = RuleKind.Gap, Delta = 0.05 });
        // Both sides 2·SE = 0.01 (values ±0.005 → std 0.00707, SE 0.005). Gap 0.02: 0.02 + 0.02 <= 0.05.
        SummaryRow[] Rows(double a, double b) => [Row("a", 0, a - 0.005), Row("a", 1, a + 0.005), Row("b", 0, b - 0.005), Row("b", 1, b + 0.005)];
        Assert.Equal(ClaimVerdicts.Reproduced, Judge(claim, Rows(3.02, 3.00)).Verdict);
        Assert.Equal(ClaimVerdicts.NotReproduced, Judge(claim, Rows(3.10, 3.00)).Verdict);    // 0.10 − 0.02 > 0.05
        Assert.Equal(ClaimVerdicts.Inconclusive, Judge(claim, Rows(3.04, 3.00)).Verdict);     // 0.04 ± 0.02 straddles 0.05
        Assert.Equal(ClaimVerdicts.Reproduced, Judge(claim, Rows(3.00, 3.02)).Verdict);       // |−0.02|
    }

    [Fact]
    public void Smoke_scale_reports_the_measured_value_with_the_smoke_verdict()
    {
        var claim = Claim(LossGap, new ClaimRule { Kind = RuleKind.Gap, Delta = 0.05 });
        var r = Judge(claim, [Row("a", 0, 3.0), Row("a", 1, 3.0), Row("b", 0, 2.0), Row("b", 1, 2.0)], PackScale.Smoke);
        Assert.Equal((ClaimVerdicts.Smoke, 1.0), (r.Verdict, r.Measured!.Value));
    }

    [Fact]
    public void Claims_that_cannot_run_say_why_and_measure_nothing()
    {
        var measure = new ClaimMeasure { Metric = ClaimMetric.TrainStepPeakBytes, Of = "a" };
        var rule = new ClaimRule { Kind = RuleKind.Ratio, Tolerance = 0.1 };
        var needs = Judge(Claim(measure, rule, 1, "grouped_query_attention", "adam8bit_linear_map", "cross_experiment_measure"), [Row("a", 0, state: 1)]);
        // Only the features the harness lacks are named; one it has (grouped-query attention) does not hold the claim.
        Assert.Equal(("not run: needs a linear (non-dynamic) quantization map option for 8-bit Adam, a claim measure that compares runs of two experiments (two workloads)", (double?)null),
            (needs.Verdict, needs.Measured));
        Assert.Equal("not run: needs a GPU", ClaimJudge.Judge(Claim(measure, rule, 1), PackScale.Paper, [], "needs a GPU").Verdict);
        Assert.Equal("not run: 'a' has no train_step_peak_bytes (not measured on cpu)", Judge(Claim(measure, rule, 1), [Row("a", 0)]).Verdict);
        Assert.Equal("not run: 'a' skipped (mixed is not implemented)",
            Judge(Claim(measure, rule, 1), [Row("a", 0, status: "skipped", message: "mixed is not implemented")]).Verdict);
        Assert.Equal("not run: no run of 'a'", Judge(Claim(measure, rule, 1), [Row("b", 0)]).Verdict);
    }
}
