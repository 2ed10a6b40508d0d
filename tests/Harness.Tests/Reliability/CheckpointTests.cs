using Harness.Core.Checkpoints;
using Harness.Core.Config;
using Harness.Core.Devices;
using Harness.Core.Planning;
using Harness.Results;
using Harness.Core.Running;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using Harness.Tests.Core;
using static TorchSharp.torch;

namespace Harness.Tests.Reliability;

public sealed class CheckpointTests
{
    private static ExperimentConfig Config(string name, int checkpointEvery, IReadOnlyList<OptimizerVariant>? optimizers = null)
    {
        var c = TestConfigs.Experiment(name, 6, optimizers ?? [TestConfigs.AdamW()]);
        return c with { Training = c.Training with { LogEvery = 1, EvalEvery = 3, CheckpointEvery = checkpointEvery } };
    }

    private static byte[] Steps(ResultStore store, string experiment, string runId) =>
        File.ReadAllBytes(Path.Combine(store.RunDir(experiment, runId), ResultStore.StepsFile));

    /// <summary>Runs the config, crashing (an exception) before step 5, so a checkpoint of step 4 is left.</summary>
    private static (ResultStore, string) Crashed(string root, string name = "ck", IReadOnlyList<OptimizerVariant>? optimizers = null)
    {
        var store = new ResultStore(root);
        var config = Config(name, 2, optimizers);
        var crash = new InjectedFaults((_, step) => step == 5 ? new InvalidOperationException("simulated crash") : null);
        Assert.False(TestConfigs.Sweep(store, config, crash).AllCompleted);
        var id = Planner.Plan(config, "cpu")[0].RunId;
        Assert.Equal(4, CheckpointFile.ReadStep(store.CheckpointPath(name, id)));
        return (store, id);
    }

    [Fact]
    public void A_resumed_run_writes_the_same_steps_csv_as_an_uninterrupted_one_and_two_runs_are_bit_identical()
    {
        using var dir = new TestConfigs.TempDir();
        var (store, id) = Crashed(Path.Combine(dir.Path, "a"), optimizers: [TestConfigs.AdamW(), TestConfigs.Lion()]);
        Assert.Equal(4, store.ReadSteps("ck", id)[^1].Step); // it crashed before step 5

        var resumed = TestConfigs.Sweep(store, Config("ck", 2, [TestConfigs.AdamW(), TestConfigs.Lion()]));
        Assert.True(resumed.AllCompleted);
        Assert.Equal(4, store.TryReadManifest("ck", id)!.ResumedFromStep);
        Assert.False(File.Exists(store.CheckpointPath("ck", id)));

        // Uninterrupted, and without checkpoints at all: checkpoint_every changes neither numbers nor run ids.
        var clean = new ResultStore(Path.Combine(dir.Path, "b"));
        var again = new ResultStore(Path.Combine(dir.Path, "c"));
        TestConfigs.Sweep(clean, Config("ck", 0, [TestConfigs.AdamW(), TestConfigs.Lion()]));
        TestConfigs.Sweep(again, Config("ck", 0, [TestConfigs.AdamW(), TestConfigs.Lion()]));
        foreach (var run in Planner.Plan(Config("ck", 0, [TestConfigs.AdamW(), TestConfigs.Lion()]), "cpu"))
        {
            Assert.Equal(Steps(clean, "ck", run.RunId), Steps(store, "ck", run.RunId));
            Assert.Equal(Steps(clean, "ck", run.RunId), Steps(again, "ck", run.RunId));
        }
        Assert.Equal([0, 1, 2, 3, 4, 5, 6], store.ReadSteps("ck", id).Select(s => s.Step));
        double? Final(ResultStore s) => s.ReadMetrics("ck", id).Single(m => m.Name == MetricNames.FinalEvalLoss).Value;
        Assert.Equal(Final(clean), Final(store));
    }

    [Fact]
    public void Restored_workload_state_replays_the_same_batches()
    {
        var context = new WorkloadContext(3, CPU, ScalarType.Float32, 2);
        using var w = new LanguageModelWorkload(TestConfigs.TinyLlama(16), context);
        w.NextBatch(Split.Train).Dispose();
        using var scope = NewDisposeScope();
        var saved = w.SaveState();
        var first = w.NextBatch(Split.Train);
        w.NextBatch(Split.Train).Dispose();
        w.LoadState(saved);
        var replay = w.NextBatch(Split.Train);
        Assert.True(first.Inputs.eq(replay.Inputs).all().item<bool>());
        var missing = Assert.Throws<ArgumentException>(() => w.LoadState(new Dictionary<string, Tensor> { ["train_generator"] = saved["train_generator"] }));
        Assert.Contains("validation_generator", missing.Message);
        var wrong = Assert.Throws<ArgumentException>(() => w.LoadState(new Dictionary<string, Tensor>(saved) { ["train_generator"] = zeros(3) }));
        Assert.Contains("train_generator", wrong.Message);
    }

    [Fact]
    public void A_checkpoint_of_another_optimizer_or_model_shape_is_a_clear_error_naming_the_file()
    {
        using var dir = new TestConfigs.TempDir();
        var (store, id) = Crashed(dir.Path);
        var path = store.CheckpointPath("ck", id);
        using var workload = new LanguageModelWorkload(TestConfigs.TinyLlama(), new WorkloadContext(0, CPU, ScalarType.Float32, 4));

        using (var lion = OptimizerCatalog.Find("lion")!.Create(workload.Parameters, new Harness.Optimizers.Lion.LionOptions()))
        {
            var e = Assert.Throws<CheckpointException>(() => CheckpointFile.Load(path, id, "lion", workload, lion));
            Assert.Equal(path, e.FilePath);
            Assert.Contains("optimizer 'adamw'", e.Message);
            Assert.Contains("'lion'", e.Message);
        }
        using var wider = new LanguageModelWorkload(TestConfigs.TinyLlama() with { Hidden = 48, Heads = 2 }, new WorkloadContext(0, CPU, ScalarType.Float32, 4));
        using var adamw = OptimizerCatalog.Find("adamw")!.Create(wider.Parameters, new Harness.Optimizers.AdamW.AdamWOptions());
        var shape = Assert.Throws<CheckpointException>(() => CheckpointFile.Load(path, id, "adamw", wider, adamw));
        Assert.StartsWith(path + ": parameter '", shape.Message);
        Assert.Contains("in this model", shape.Message);
        var otherRun = Assert.Throws<CheckpointException>(() => CheckpointFile.Load(path, "0123456789ab", "adamw", wider, adamw));
        Assert.Contains("belongs to run", otherRun.Message);
    }

    [Theory]
    [InlineData("truncated-half")]
    [InlineData("truncated-to-7-bytes")]
    [InlineData("garbage")]
    [InlineData("header-flipped")]
    [InlineData("plain-safetensors")]
    public void A_corrupt_checkpoint_is_detected_and_named_and_the_rerun_refuses_it(string damage)
    {
        using var dir = new TestConfigs.TempDir();
        var (store, id) = Crashed(dir.Path);
        var path = store.CheckpointPath("ck", id);
        var bytes = File.ReadAllBytes(path);
        switch (damage)
        {
            case "truncated-half": File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]); break;
            case "truncated-to-7-bytes": File.WriteAllBytes(path, bytes[..7]); break;
            case "garbage": var g = new byte[4096]; new Random(5).NextBytes(g); File.WriteAllBytes(path, g); break;
            case "header-flipped": bytes[12] ^= 0xFF; bytes[13] ^= 0x55; File.WriteAllBytes(path, bytes); break;
            case "plain-safetensors":
                using (var t = ones(3)) Harness.Core.Traces.SafeTensorsFile.Write(path, new Dictionary<string, Tensor> { ["x"] = t });
                break;
        }
        var e = Assert.Throws<CheckpointException>(() => TestConfigs.Sweep(store, Config("ck", 2)));
        Assert.Equal(path, e.FilePath);
        Assert.StartsWith(path + ": ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
