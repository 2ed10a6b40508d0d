using Harness.Core.Config;
using Harness.Core.Planning;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using Harness.Optimizers.AdamW;

namespace Harness.Tests.Core;

public sealed class PlannerTests
{
    [Fact]
    public void Plan_is_optimizer_variants_times_seeds_in_order()
    {
        var config = TestConfigs.Experiment("p", 10, [TestConfigs.AdamW(1e-3), TestConfigs.AdamW(3e-3, label: "b"), TestConfigs.Lion()], seeds: [0, 1, 2]);
        var plan = Planner.Plan(config, "cpu");
        Assert.Equal(9, plan.Count);
        Assert.Equal([0, 1, 2, 0, 1, 2, 0, 1, 2], plan.Select(p => p.Seed));
        Assert.Equal(["adamw", "adamw", "adamw", "b", "b", "b", "lion", "lion", "lion"], plan.Select(p => p.Variant.Label));
        Assert.Equal(9, plan.Select(p => p.RunId).Distinct().Count());
        Assert.All(plan, p => Assert.Null(p.SkipReason));
    }

    [Fact]
    public void Run_id_is_stable_and_changes_with_anything_that_changes_results()
    {
        var a = Planner.Plan(TestConfigs.Experiment("p", 10, [TestConfigs.AdamW(1e-3)]), "cpu")[0];
        var again = Planner.Plan(TestConfigs.Experiment("p", 10, [TestConfigs.AdamW(1e-3)]), "cpu")[0];
        Assert.Equal(a.RunId, again.RunId);
        Assert.Matches("^[0-9a-f]{12}$", a.RunId);

        // a label is presentation only: same numbers, same id
        var relabeled = Planner.Plan(TestConfigs.Experiment("p", 10, [TestConfigs.AdamW(1e-3, label: "other")]), "cpu")[0];
        Assert.Equal(a.RunId, relabeled.RunId);
        // CUDA ordinal does not matter, device kind does
        Assert.Equal(Planner.Plan(TestConfigs.Experiment("p", 10, [TestConfigs.AdamW(1e-3)]), "cuda:0")[0].RunId,
            Planner.Plan(TestConfigs.Experiment("p", 10, [TestConfigs.AdamW(1e-3)]), "cuda:3")[0].RunId);

        string[] changed =
        [
            Planner.Plan(TestConfigs.Experiment("p", 10, [TestConfigs.AdamW(2e-3)]), "cpu")[0].RunId,
            Planner.Plan(TestConfigs.Experiment("p", 11, [TestConfigs.AdamW(1e-3)]), "cpu")[0].RunId,
            Planner.Plan(TestConfigs.Experiment("q", 10, [TestConfigs.AdamW(1e-3)]), "cpu")[0].RunId,
            Planner.Plan(TestConfigs.Experiment("p", 10, [TestConfigs.AdamW(1e-3)], seeds: [1]), "cpu")[0].RunId,
            Planner.Plan(TestConfigs.Experiment("p", 10, [TestConfigs.AdamW(1e-3)]), "cuda")[0].RunId,
            Planner.Plan(TestConfigs.Experiment("p", 10, [TestConfigs.AdamW(1e-3, weightDecay: 0.1)]), "cpu")[0].RunId,
            Planner.Plan(TestConfigs.Experiment("p", 10, [TestConfigs.AdamW(1e-3)]) with { Workload = TestConfigs.TinyLlama(seqLen: 16) }, "cpu")[0].RunId,
        ];
        Assert.DoesNotContain(a.RunId, changed);
        Assert.Equal(changed.Length, changed.Distinct().Count());
    }

    [Fact]
    public void Run_spec_json_names_every_option_in_snake_case()
    {
        var run = Planner.Plan(TestConfigs.Experiment("p", 10, [new OptimizerVariant("adamw", "adamw", new AdamWOptions { Lr = 0.002, WeightDecay = 0.1 }, [], 0)]), "cpu")[0];
        var json = run.Spec.ToJson();
        Assert.Equal(0.002, (double)json["optimizer"]!["lr"]!);
        Assert.Equal(0.1, (double)json["optimizer"]!["weight_decay"]!);
        Assert.Equal("cosine", (string)json["schedule"]!["kind"]!);
        Assert.Equal(32, (int)json["workload"]!["seq_len"]!);
        Assert.Equal(RunSpec.SchemaVersion, (int)json["schema_version"]!);
    }

    [Fact]
    public void Fused_slab_rows_enter_the_run_id_only_when_set()
    {
        var plain = TestConfigs.Experiment("p", 10, [TestConfigs.AdamW()]);
        var withDefault = plain with { Training = plain.Training with { FusedSlabRows = null } };
        var withSlab = plain with { Training = plain.Training with { FusedSlabRows = 16 } };
        var ids = new[] { plain, withDefault, withSlab }.Select(c => Assert.Single(Planner.Plan(c, "cpu")).RunId).ToList();
        Assert.Equal(ids[0], ids[1]);
        Assert.NotEqual(ids[0], ids[2]);
        Assert.DoesNotContain("fused_slab_rows", Assert.Single(Planner.Plan(plain, "cpu")).Spec.ToJson().ToJsonString());
        Assert.Contains(new OptionProblem("fused_slab_rows", "must be >= 1 (got 0)"), (plain.Training with { FusedSlabRows = 0 }).Validate());
    }

    [Fact]
    public void Unsupported_modes_are_planned_as_skips_with_a_reason()
    {
        var swan = new OptimizerVariant("swan", "swan", new Harness.Optimizers.Swan.SwanOptions(), [], 0);
        var fused = TestConfigs.Experiment("p", 10, [TestConfigs.AdamW(), TestConfigs.Lion(), swan]) with { StepMode = StepMode.FusedBackward };
        var runs = Planner.Plan(fused, "cpu");
        Assert.Null(runs[0].SkipReason);
        Assert.Null(runs[1].SkipReason);
        Assert.Contains("not element-wise", runs[2].SkipReason);

        var bf16 = TestConfigs.Experiment("p", 10, [TestConfigs.AdamW()]);
        bf16 = bf16 with { Training = bf16.Training with { Dtype = TrainingDType.Mixed } };
        Assert.Null(Assert.Single(Planner.Plan(bf16, "cpu")).SkipReason);
        var mixedGpt2 = bf16 with { Workload = new Gpt2Spec { SeqLen = 16 } };
        Assert.Null(Assert.Single(Planner.Plan(mixedGpt2, "cpu")).SkipReason);
        var mixedMlp = bf16 with { Workload = new MlpSpec() };
        Assert.Contains("language models' layers (llama, gpt2) only", Assert.Single(Planner.Plan(mixedMlp, "cpu")).SkipReason);
    }

    [Theory]
    [InlineData(ScheduleKind.Constant, 0, 100, 1.0)]
    [InlineData(ScheduleKind.Cosine, 10, 0, 0.1)]
    [InlineData(ScheduleKind.Cosine, 10, 9, 1.0)]
    [InlineData(ScheduleKind.Cosine, 10, 10, 1.0)]
    [InlineData(ScheduleKind.Cosine, 10, 109, 0.1)]
    [InlineData(ScheduleKind.Linear, 0, 0, 1.0)]
    [InlineData(ScheduleKind.Linear, 0, 99, 0.1)]
    public void Schedule_multiplier_hits_its_anchor_points(ScheduleKind kind, int warmup, int step, double expected)
    {
        var schedule = new ScheduleConfig { Kind = kind, WarmupSteps = warmup, MinRatio = 0.1 };
        Assert.Equal(expected, schedule.Multiplier(step, warmup + 100), 12);
    }

    [Fact]
    public void Cosine_midpoint_is_halfway_between_peak_and_floor()
    {
        var schedule = new ScheduleConfig { Kind = ScheduleKind.Cosine, WarmupSteps = 0, MinRatio = 0.2 };
        Assert.Equal(0.6, schedule.Multiplier(50, 101), 12);
    }
}
