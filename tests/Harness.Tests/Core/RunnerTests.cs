using Harness.Core.Devices;
using Harness.Core.Planning;
using Harness.Results;
using Harness.Core.Running;
using static TorchSharp.torch;

namespace Harness.Tests.Core;

public sealed class RunnerTests
{
    /// <summary>The runner takes step_mode per_layer to its driver: GaLore's losses equal the standard run's bit for bit.</summary>
    [Fact]
    public void A_per_layer_galore_run_equals_the_standard_run()
    {
        using var dir = new TestConfigs.TempDir();
        var store = new ResultStore(dir.Path);
        var galore = new Harness.Core.Config.OptimizerVariant("galore", "galore",
            new Harness.Optimizers.GaLore.GaLoreOptions { Lr = 1e-2, Rank = 8, UpdateProjGap = 3 }, [], 0);
        var (standard, perLayer) = TestConfigs.StandardAndPerLayer(store, galore, 6);
        Assert.Equal(standard.FinalEvalLoss, perLayer.FinalEvalLoss);
        Assert.Equal(standard.FinalTrainLoss, perLayer.FinalTrainLoss);
        Assert.NotEqual(standard.InitialEvalLoss, standard.FinalEvalLoss);
        Assert.Null(perLayer.StepTransientBytes);
    }

    [Fact]
    public void A_20_step_cpu_run_completes_learns_and_records_everything()
    {
        using var dir = new TestConfigs.TempDir();
        var store = new ResultStore(dir.Path);
        var config = TestConfigs.Experiment("real", 20, [TestConfigs.AdamW(3e-3)]);
        var result = TestConfigs.Sweep(store, config);

        Assert.True(result.AllCompleted);
        var row = Assert.Single(ResultStore.ReadSummary(store.SummaryPath("real")));
        Assert.Equal("completed", row.Status);
        Assert.Equal(20, row.Steps);
        Assert.True(row.FinalEvalLoss < row.InitialEvalLoss - 0.3, $"eval loss {row.InitialEvalLoss} -> {row.FinalEvalLoss}");
        Assert.Equal("tensor-ops", row.Implementation);
        Assert.Equal("cpu", row.Device);
        Assert.True(row.TokensPerS > 0);
        Assert.True(row.StepMsP50 > 0 && row.StepMsP90 >= row.StepMsP50);
        Assert.True(row.OptimizerStepMsP50 > 0 && row.OptimizerStepMsP50 < row.StepMsP50);
        // AdamW keeps two fp32 tensors per parameter: exactly 8 bytes per parameter.
        Assert.Equal(8 * row.ParamCount, row.StateBytes);
        // fp32 weights: 4 bytes per parameter.
        Assert.Equal(4 * row.ParamCount, row.WeightBytes);
        Assert.Null(row.StepTransientBytes); // no allocator statistics on CPU: empty, never estimated

        var steps = store.ReadSteps("real", row.RunId);
        Assert.Equal([0, 5, 10, 15, 20], steps.Select(s => s.Step));
        Assert.NotNull(steps[0].EvalLoss);
        Assert.Null(steps[0].TrainLoss);
        Assert.All(steps.Skip(1), s => Assert.NotNull(s.TrainLoss));
        Assert.Equal([true, false, true, false, true], steps.Select(s => s.EvalLoss is not null));
        Assert.Equal(20L * 4 * 32, steps[^1].Tokens);
        Assert.True(steps[^1].TrainLoss < steps[1].TrainLoss);

        var metrics = store.ReadMetrics("real", row.RunId);
        Assert.Equal(metrics.Single(m => m.Name == MetricNames.ExpectedStateBytes).Value, metrics.Single(m => m.Name == MetricNames.StateBytes).Value);
        var manifest = store.TryReadManifest("real", row.RunId)!;
        Assert.Equal(RunStatus.Completed, manifest.Status);
        Assert.Equal(3e-3, (double)manifest.Spec["optimizer"]!["lr"]!);
        Assert.Equal(row.RunId, new Harness.Core.Planning.RunSpec(config.Name, "cpu", config.StepMode, "llama", config.Workload, config.Training, config.Schedule, "adamw", config.Optimizers[0].Options, 0).RunId());
        Assert.Equal("2.10.0.0", manifest.Provenance.LibTorchVersion);
        Assert.True(manifest.EndedUtc >= manifest.StartedUtc);
    }

    [Fact]
    public void A_fused_backward_run_ends_where_the_standard_run_ends()
    {
        using var dir = new TestConfigs.TempDir();
        var store = new ResultStore(dir.Path);
        var standard = TestConfigs.Experiment("std", 10, [TestConfigs.AdamW(3e-3)]);
        standard = standard with { Training = standard.Training with { GradAccumulation = 2 } };
        var fused = standard with { Name = "forge", StepMode = Harness.Core.Config.StepMode.FusedBackward };
        Assert.True(TestConfigs.Sweep(store, standard).AllCompleted);
        Assert.True(TestConfigs.Sweep(store, fused).AllCompleted);
        var a = Assert.Single(ResultStore.ReadSummary(store.SummaryPath("std")));
        var b = Assert.Single(ResultStore.ReadSummary(store.SummaryPath("forge")));
        Assert.NotEqual(a.RunId, b.RunId); // step_mode is part of the run spec
        Assert.Equal(a.StateBytes, b.StateBytes);
        Assert.True(Math.Abs(a.FinalEvalLoss!.Value - b.FinalEvalLoss!.Value) < 1e-5, $"eval loss {a.FinalEvalLoss} vs {b.FinalEvalLoss}");
        Assert.True(b.FinalEvalLoss < b.InitialEvalLoss - 0.2);
    }

    [Fact]
    public void A_rerun_reuses_completed_runs_and_reruns_unfinished_ones()
    {
        using var dir = new TestConfigs.TempDir();
        var store = new ResultStore(dir.Path);
        var config = TestConfigs.Experiment("resume", 6, [TestConfigs.AdamW(), TestConfigs.Lion()]);
        var first = TestConfigs.Sweep(store, config);
        Assert.Equal(0, first.Reused);
        var plan = Planner.Plan(config, "cpu");
        var adamwDir = store.RunDir("resume", plan[0].RunId);
        var stepsWritten = File.GetLastWriteTimeUtc(Path.Combine(adamwDir, ResultStore.StepsFile));
        var startedFirst = store.TryReadManifest("resume", plan[0].RunId)!.StartedUtc;

        // Pretend the Lion run was killed mid-way.
        var lion = store.TryReadManifest("resume", plan[1].RunId)!;
        store.WriteManifest(lion with { Status = RunStatus.Running, EndedUtc = null });

        var second = TestConfigs.Sweep(store, config);
        Assert.Equal(1, second.Reused);
        Assert.True(second.AllCompleted);
        Assert.Equal(startedFirst, store.TryReadManifest("resume", plan[0].RunId)!.StartedUtc);
        Assert.Equal(stepsWritten, File.GetLastWriteTimeUtc(Path.Combine(adamwDir, ResultStore.StepsFile)));
        Assert.True(store.TryReadManifest("resume", plan[1].RunId)!.StartedUtc > lion.StartedUtc);
        Assert.Equal(2, ResultStore.ReadSummary(store.SummaryPath("resume")).Count(r => r.Status == "completed"));
    }

    [Fact]
    public void Same_seed_gives_identical_losses_and_a_different_seed_does_not()
    {
        using var dir = new TestConfigs.TempDir();
        IReadOnlyList<double?> Losses(string name, int seed)
        {
            var store = new ResultStore(dir.Path);
            var config = TestConfigs.Experiment(name, 5, [TestConfigs.AdamW()], seeds: [seed]);
            TestConfigs.Sweep(store, config);
            var id = Planner.Plan(config, "cpu")[0].RunId;
            return store.ReadSteps(name, id).Select(s => s.TrainLoss ?? s.EvalLoss).ToList();
        }
        var a = Losses("a", 7);
        Assert.Equal(a, Losses("b", 7));
        Assert.NotEqual(a, Losses("c", 8));
    }

    [Fact]
    public void Skipped_runs_get_a_manifest_with_their_reason()
    {
        using var dir = new TestConfigs.TempDir();
        var store = new ResultStore(dir.Path);
        var swan = new Harness.Core.Config.OptimizerVariant("swan", "swan", new Harness.Optimizers.Swan.SwanOptions(), [], 0);
        var config = TestConfigs.Experiment("skip", 5, [swan]) with { StepMode = Harness.Core.Config.StepMode.FusedBackward };
        var result = TestConfigs.Sweep(store, config);
        Assert.True(result.AllCompleted);
        var row = Assert.Single(ResultStore.ReadSummary(store.SummaryPath("skip")));
        Assert.Equal("skipped", row.Status);
        Assert.Contains("fused_backward", row.Message);
        Assert.Contains("element-wise", row.Message);
    }

    private sealed class LiveTensorProbe : IRunObserver
    {
        public List<long> LiveAtStep { get; } = [];
        public void RunStarting(PlannedRun run, int index, int total) { }
        public void RunSkipped(PlannedRun run, int index, int total, string reason) { }
        public void Progress(PlannedRun run, StepRecord record, int totalSteps, double? tokensPerSecond, TimeSpan? remaining) =>
            LiveAtStep.Add(TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        public void RunFinished(PlannedRun run, RunStatus status, string? message) { }
    }

    [Theory]
    [InlineData(Harness.Core.Config.StepMode.Standard, 1)]
    [InlineData(Harness.Core.Config.StepMode.FusedBackward, 2)]
    [InlineData(Harness.Core.Config.StepMode.PerLayer, 2)]
    public void Live_tensor_count_stays_flat_across_training_steps(Harness.Core.Config.StepMode mode, int gradAccumulation)
    {
        using var dir = new TestConfigs.TempDir();
        var config = TestConfigs.Experiment("leak", 12, [TestConfigs.AdamW()]) with { StepMode = mode };
        config = config with { Training = config.Training with { LogEvery = 1, EvalEvery = 4, GradAccumulation = gradAccumulation } };
        var probe = new LiveTensorProbe();
        var result = new SweepRunner(new ResultStore(dir.Path), probe).Run(config, Planner.Plan(config, "cpu"), CPU, ProvenanceProbe.Collect(CPU), CancellationToken.None);
        Assert.True(result.AllCompleted);
        Assert.Equal(12, probe.LiveAtStep.Count);
        // After step 1 (which creates the optimizer state) nothing may accumulate, evaluations included.
        Assert.All(probe.LiveAtStep.Skip(1), n => Assert.Equal(probe.LiveAtStep[1], n));
    }
}
