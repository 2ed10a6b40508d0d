using Harness.Core.Config;
using Harness.Core.Devices;
using Harness.Core.Planning;
using Harness.Core.Running;
using Harness.Results;
using Harness.Experiments.Workloads;
using Harness.Optimizers.AdamW;
using Harness.Optimizers.Lion;

namespace Harness.Tests.Core;

/// <summary>Small experiment configs built in code (no YAML), for runner and planner tests.</summary>
internal static class TestConfigs
{
    public static LlamaSpec TinyLlama(int seqLen = 32) => new()
    {
        Size = "tiny",
        Hidden = 32,
        Layers = 1,
        Heads = 2,
        Ffn = 64,
        SeqLen = seqLen,
        Data = new TextDataSpec { Corpus = "moby-dick", Tokenizer = "byte", ValFraction = 0.05 },
    };

    public static OptimizerVariant AdamW(double lr = 3e-3, double weightDecay = 0, string? label = null) =>
        new("adamw", label ?? "adamw", new AdamWOptions { Lr = lr, WeightDecay = weightDecay }, [], 0);

    public static OptimizerVariant Lion(double lr = 3e-4) => new("lion", "lion", new LionOptions { Lr = lr }, [], 1);

    public static ExperimentConfig Experiment(string name, int steps, IReadOnlyList<OptimizerVariant> optimizers, IReadOnlyList<int>? seeds = null) => new()
    {
        Name = name,
        Device = "cpu",
        Seeds = seeds ?? [0],
        Workload = TinyLlama(),
        Training = new TrainingConfig
        {
            Steps = steps,
            BatchSize = 4,
            LogEvery = 5,
            EvalEvery = 10,
            EvalBatches = 2,
            TimingWarmupSteps = 2,
        },
        Schedule = new ScheduleConfig { Kind = ScheduleKind.Cosine, WarmupSteps = 2, MinRatio = 0.1 },
        Optimizers = optimizers,
    };

    /// <summary>A fresh folder under the system temp dir, deleted by the caller's using.</summary>
    public sealed class TempDir : IDisposable
    {
        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "harness-tests-" + Guid.NewGuid().ToString("N"));
        public TempDir() => Directory.CreateDirectory(Path);
        public void Dispose()
        {
            try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Plans <paramref name="config"/> for the CPU and runs it into <paramref name="store"/>.</summary>
    public static SweepResult Sweep(ResultStore store, ExperimentConfig config, IFaultInjector? faults = null) =>
        new SweepRunner(store, new NullRunObserver(), faults: faults).Run(config, Planner.Plan(config, "cpu"), TorchSharp.torch.CPU,
            ProvenanceProbe.Collect(TorchSharp.torch.CPU), CancellationToken.None);

    /// <summary>
    /// <paramref name="optimizer"/> run for <paramref name="steps"/> steps with step_mode standard, then per_layer (experiments
    /// named after the mode); both must complete. Their summary rows.
    /// </summary>
    public static (SummaryRow Standard, SummaryRow PerLayer) StandardAndPerLayer(ResultStore store, OptimizerVariant optimizer, int steps)
    {
        SummaryRow RunAs(StepMode mode)
        {
            var name = mode.ToString().ToLowerInvariant();
            Assert.True(Sweep(store, Experiment(name, steps, [optimizer]) with { StepMode = mode }).AllCompleted);
            return Assert.Single(ResultStore.ReadSummary(store.SummaryPath(name)));
        }
        return (RunAs(StepMode.Standard), RunAs(StepMode.PerLayer));
    }
}
