using Harness.Core.Checkpoints;
using Harness.Results;
using Harness.Tests.Core;

namespace Harness.Tests.Reliability;

/// <summary>
/// Kills a real harness process with SIGKILL at six points of a two-run sweep (before and after the
/// first checkpoint, halfway through writing a checkpoint, between runs) and reruns the same command each
/// time: the final results equal those of an uninterrupted sweep, byte for byte in steps.csv.
/// </summary>
[Collection(HarnessProcess.Collection)]
public sealed class KillAndResumeTests
{
    internal const string Config = """
        name: crash
        device: cpu
        seeds: [0]
        workload:
          kind: llama
          size: tiny
          hidden: 16
          layers: 1
          heads: 2
          ffn: 32
          seq_len: 16
          data: { corpus: moby-dick, tokenizer: byte, val_fraction: 0.05 }
        training: { steps: 6, batch_size: 2, log_every: 1, eval_every: 3, eval_batches: 1, timing_warmup_steps: 1, checkpoint_every: 2 }
        schedule: { kind: cosine, warmup_steps: 2, min_ratio: 0.1 }
        optimizers:
          - { kind: adamw, lr: 3.0e-3 }
          - { kind: lion, lr: 1.0e-3 }
        """;

    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    [Fact]
    public void Six_SIGKILLs_then_a_rerun_give_the_results_of_an_uninterrupted_sweep()
    {
        using var dir = new TestConfigs.TempDir();
        File.WriteAllText(Path.Combine(dir.Path, "crash.yaml"), Config);
        string[] Args(string outDir) => ["run", "crash.yaml", "--out", outDir];

        var baseline = HarnessProcess.Run(dir.Path, Limit, Args("clean"));
        Assert.True(baseline.ExitCode == 0, baseline.Stderr + baseline.Stdout);

        var store = new ResultStore(Path.Combine(dir.Path, "killed"));
        var ids = ResultStore.ReadSummary(Path.Combine(dir.Path, "clean", "crash", "summary.csv")).Select(r => r.RunId).ToList();
        var (adamw, lion) = (ids[0], ids[1]);
        string Ckpt(string id) => store.CheckpointPath("crash", id);
        bool Temporary(string id) => Directory.EnumerateFiles(store.RunDir("crash", id), ".checkpoint.safetensors.*.tmp").Any();
        void Kill(string point) => HarnessProcess.RunAndKillAt(dir.Path, point, Limit, Args("killed"));

        // 1: before step 2 of the first run: no checkpoint yet, so the rerun starts it over.
        Kill("before-step:0:2");
        Assert.Equal(RunStatus.Running, store.TryReadManifest("crash", adamw)!.Status);
        Assert.False(File.Exists(Ckpt(adamw)));

        // 2: before step 4: the checkpoint of step 2 exists and step 3's row was written after it.
        Kill("before-step:0:4");
        Assert.Equal(2, CheckpointFile.ReadStep(Ckpt(adamw)));
        Assert.Equal(3, store.ReadSteps("crash", adamw)[^1].Step);

        // 3: halfway through writing step 4's checkpoint: a torn temporary file, the old checkpoint intact.
        Kill("mid-checkpoint:0:4");
        Assert.True(Temporary(adamw));
        Assert.Equal(2, CheckpointFile.ReadStep(Ckpt(adamw)));
        Assert.Equal(2, store.TryReadManifest("crash", adamw)!.ResumedFromStep);

        // 4: after the first run completed, before the second starts.
        Kill("after-run:0");
        var first = store.TryReadManifest("crash", adamw)!;
        Assert.Equal(RunStatus.Completed, first.Status);
        Assert.False(File.Exists(Ckpt(adamw))); // a completed run keeps no checkpoint
        Assert.False(Temporary(adamw));
        Assert.Null(store.TryReadManifest("crash", lion));

        // 5: halfway through the second run's first checkpoint: nothing to resume from yet.
        Kill("mid-checkpoint:1:2");
        Assert.True(Temporary(lion));
        Assert.False(File.Exists(Ckpt(lion)));
        Assert.Equal(first.StartedUtc, store.TryReadManifest("crash", adamw)!.StartedUtc); // reused, not rerun

        // 6: before the second run's step 5, with its step-4 checkpoint on disk.
        Kill("before-step:1:5");
        Assert.Equal(4, CheckpointFile.ReadStep(Ckpt(lion)));

        var final = HarnessProcess.Run(dir.Path, Limit, Args("killed"));
        Assert.True(final.ExitCode == 0, final.Stderr + final.Stdout);
        Assert.Equal(4, store.TryReadManifest("crash", lion)!.ResumedFromStep);
        Assert.Equal(first.StartedUtc, store.TryReadManifest("crash", adamw)!.StartedUtc);

        var clean = new ResultStore(Path.Combine(dir.Path, "clean"));
        Assert.Equal(Deterministic(clean), Deterministic(store));
        foreach (var id in ids)
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(clean.RunDir("crash", id), ResultStore.StepsFile)),
                File.ReadAllBytes(Path.Combine(store.RunDir("crash", id), ResultStore.StepsFile)));
            Assert.Equal(store.ReadSteps("crash", id).Select(s => s.Step), store.ReadTiming("crash", id).Select(t => t.Step));
        }
        Assert.Equal([0, 1, 2, 3, 4, 5, 6], store.ReadSteps("crash", lion).Select(s => s.Step));
    }

    /// <summary>Every summary column that does not depend on the clock.</summary>
    internal static List<string> Deterministic(ResultStore store) =>
        ResultStore.ReadSummary(store.SummaryPath("crash"))
            .Select(r => string.Join("|", r.RunId, r.Label, r.Seed, r.Status, r.Steps, r.FinalTrainLoss?.ToString("R"), r.FinalEvalLoss?.ToString("R"),
                r.InitialEvalLoss?.ToString("R"), r.FinalEvalPerplexity?.ToString("R"), r.StateBytes, r.ParamCount, r.Implementation, r.StateDtype, r.Message))
            .ToList();
}
