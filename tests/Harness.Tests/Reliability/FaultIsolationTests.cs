using System.Runtime.InteropServices;
using Harness.Core.Config;
using Harness.Core.Devices;
using Harness.Core.Planning;
using Harness.Results;
using Harness.Core.Running;
using Harness.Tests.Core;
using static TorchSharp.torch;

namespace Harness.Tests.Reliability;

public sealed class FaultIsolationTests
{
    private static ExperimentConfig Logged(ExperimentConfig c) => c with { Training = c.Training with { LogEvery = 1 } };

    [Fact]
    public void A_diverging_lr_and_an_injected_oom_end_their_runs_only_and_are_recorded()
    {
        using var dir = new TestConfigs.TempDir();
        var store = new ResultStore(dir.Path);
        var config = Logged(TestConfigs.Experiment("faults", 6,
            [TestConfigs.AdamW(3e-3, label: "adamw-ok"), TestConfigs.AdamW(300, label: "adamw-diverges"), TestConfigs.Lion()]));
        var oom = new InjectedFaults((run, step) => run.Variant.Kind == "lion" && step == 3
            ? new ExternalException("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.10 GiB total capacity)")
            : null);

        var result = TestConfigs.Sweep(store, config, oom);

        Assert.False(result.AllCompleted);
        var rows = ResultStore.ReadSummary(store.SummaryPath("faults")).ToDictionary(r => r.Label);
        Assert.Equal("completed", rows["adamw-ok"].Status);
        Assert.Equal(6, rows["adamw-ok"].Steps);
        Assert.NotNull(rows["adamw-ok"].FinalEvalLoss);

        var diverged = rows["adamw-diverges"];
        Assert.Equal("diverged", diverged.Status);
        Assert.True(diverged.Steps is >= 1 and < 6, $"diverged after {diverged.Steps} steps");
        Assert.Matches("training loss|parameter", diverged.Message);
        Assert.Null(diverged.FinalEvalLoss);
        // The partial curve is kept: step 0 and every logged step up to the divergence.
        var curve = store.ReadSteps("faults", diverged.RunId);
        Assert.Equal(Enumerable.Range(0, diverged.Steps + 1), curve.Select(s => s.Step));
        var last = curve[^1].TrainLoss!.Value;
        Assert.True(!double.IsFinite(last) || last > 4 * diverged.InitialEvalLoss!.Value || diverged.Message.Contains("parameter"), $"last loss {last}");

        var lion = rows["lion"];
        Assert.Equal("oom", lion.Status);
        Assert.StartsWith("CUDA out of memory", lion.Message);
        Assert.Equal([0, 1, 2], store.ReadSteps("faults", lion.RunId).Select(s => s.Step)); // its curve up to the fault is kept
        Assert.Equal([RunStatus.Completed, RunStatus.Diverged, RunStatus.Oom], result.Runs.Select(r => r.Status));
        Assert.Equal(["end adamw-ok Completed", "end adamw-diverges Diverged", "end lion Oom"], oom.Seen);
    }

    [Fact]
    public void Any_other_exception_fails_the_run_with_its_message_and_the_sweep_goes_on()
    {
        using var dir = new TestConfigs.TempDir();
        var store = new ResultStore(dir.Path);
        var config = TestConfigs.Experiment("bug", 4, [TestConfigs.AdamW(), TestConfigs.Lion()]);
        var result = TestConfigs.Sweep(store, config, new InjectedFaults((run, step) => run.Variant.Kind == "adamw" && step == 2 ? new InvalidOperationException("a bug\nwith a second line") : null));
        var rows = ResultStore.ReadSummary(store.SummaryPath("bug")).ToDictionary(r => r.Optimizer);
        Assert.Equal("failed", rows["adamw"].Status);
        Assert.Equal("InvalidOperationException: a bug", rows["adamw"].Message);
        Assert.Equal("completed", rows["lion"].Status);
        Assert.Equal(1, result.Count(RunStatus.Failed));
    }

    [Fact]
    public void Divergence_factor_applies_to_the_initial_eval_loss_and_0_turns_it_off()
    {
        var check = new LossMonitor(new LossMonitorSettings(3, 4, DivergencePatience: 1), 5.0);
        Assert.Null(check.Observe(3, null, null, null, false).Diverged); // nothing read, nothing to check
        Assert.Contains("training loss became", check.Observe(2, double.NaN, null, null, false).Diverged);
        Assert.Contains("training loss became", check.Observe(2, double.PositiveInfinity, null, null, false).Diverged);
        Assert.Contains("stayed above divergence_factor 4", check.Observe(7, 20.5, null, null, false).Diverged);
        Assert.Contains("evaluation loss", check.Observe(7, null, new Harness.Experiments.Workloads.EvalResult(double.NaN, null, null), null, false).Diverged);
        var off = new LossMonitor(new LossMonitorSettings(0, 0, 1), 5.0);
        Assert.Equal((0, null), (off.Observe(1, 1e6, new Harness.Experiments.Workloads.EvalResult(1e6, null, null), null, true) is var (e, d) ? e.Count : -1, d));

        Assert.Contains(new TrainingConfig { DivergenceFactor = 0.5 }.Validate(), p => p.Key == "divergence_factor");
        Assert.Contains(new TrainingConfig { DivergenceFactor = double.PositiveInfinity }.Validate(), p => p.Key == "divergence_factor");
        Assert.Contains(new TrainingConfig { CheckpointEvery = -1 }.Validate(), p => p.Key == "checkpoint_every");
        Assert.Empty(new TrainingConfig { DivergenceFactor = 0 }.Validate());
        Assert.Equal(4.0, new TrainingConfig().DivergenceFactor);
        Assert.Contains(new TrainingConfig { SpikeFactor = 1 }.Validate(), p => p.Key == "spike_factor");
        Assert.Contains(new TrainingConfig { DivergencePatience = 0 }.Validate(), p => p.Key == "divergence_patience");
        Assert.Empty(new TrainingConfig { SpikeFactor = 0, DivergencePatience = 1 }.Validate());
    }
}
