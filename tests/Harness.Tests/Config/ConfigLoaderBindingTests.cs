using Harness.Core.Config;
using Harness.Experiments.Workloads;
using Harness.Optimizers.AdamW;
using Harness.Optimizers.Lion;

namespace Harness.Tests.Config;

public sealed class ConfigLoaderBindingTests
{
    private const string Full = """
        name: full-example.v1
        description: "every field set"
        device: cuda:1
        seeds: [3, 1, 2]
        step_mode: standard              # fused_backward refuses grad_clip (ForgeStepDriverTests), set below
        workload:
          kind: llama
          size: 9m
          hidden: 96
          layers: 3
          heads: 4
          ffn: 256
          seq_len: 64
          data: { corpus: moby-dick, tokenizer: gpt2, val_fraction: 0.1 }
        training: { steps: 300, batch_size: 8, grad_accumulation: 2, dtype: bfloat16, grad_clip: 1.0, log_every: 5, eval_every: 25, eval_batches: 4, timing_warmup_steps: 10 }
        schedule: { kind: linear, warmup_steps: 30, min_ratio: 0.0 }
        optimizers:
          - { kind: adamw, lr: 2.0e-3, betas: [0.8, 0.95], eps: 1e-6, weight_decay: 0.01 }
          - kind: lion
            label: lion-small
            lr: 3e-5
        """;

    [Fact]
    public void FullExampleBindsEveryField()
    {
        var c = ConfigLoader.Parse(Full, "full.yaml");
        Assert.Equal("full-example.v1", c.Name);
        Assert.Equal("every field set", c.Description);
        Assert.Equal("cuda:1", c.Device);
        Assert.Equal([3, 1, 2], c.Seeds);
        Assert.Equal(StepMode.Standard, c.StepMode);
        Assert.Equal("full.yaml", c.SourcePath);

        var w = Assert.IsType<LlamaSpec>(c.Workload);
        Assert.Equal(("9m", 96, 3, 4, 256, 64), (w.Size, w.Hidden, w.Layers, w.Heads, w.Ffn, w.SeqLen));
        Assert.Equal(("moby-dick", "gpt2", 0.1), (w.Data.Corpus, w.Data.Tokenizer, w.Data.ValFraction));

        var t = c.Training;
        Assert.Equal((300, 8, 2, TrainingDType.Bfloat16, 1.0), (t.Steps, t.BatchSize, t.GradAccumulation, t.Dtype, t.GradClip));
        Assert.Equal((5, 25, 4, 10), (t.LogEvery, t.EvalEvery, t.EvalBatches, t.TimingWarmupSteps));
        Assert.Equal((ScheduleKind.Linear, 30, 0.0), (c.Schedule.Kind, c.Schedule.WarmupSteps, c.Schedule.MinRatio));

        Assert.Equal(2, c.Optimizers.Count);
        var adam = c.Optimizers[0];
        Assert.Equal(("adamw", "adamw", 0), (adam.Kind, adam.Label, adam.EntryIndex));
        Assert.Empty(adam.SweepValues);
        var ao = Assert.IsType<AdamWOptions>(adam.Options);
        Assert.Equal((2e-3, 1e-6, 0.01), (ao.Lr, ao.Eps, ao.WeightDecay));
        Assert.Equal([0.8, 0.95], ao.Betas);

        var lion = c.Optimizers[1];
        Assert.Equal(("lion", "lion-small", 1), (lion.Kind, lion.Label, lion.EntryIndex));
        var lo = Assert.IsType<LionOptions>(lion.Options);
        Assert.Equal(3e-5, lo.Lr);
        Assert.Equal([0.9, 0.99], lo.Betas);
    }

    [Fact]
    public void OmittedSectionsKeepTheirDefaults()
    {
        var c = ConfigLoader.Parse(ConfigTestKit.Minimal, "m.yaml");
        Assert.Equal("t", c.Name);
        Assert.Null(c.Description);
        Assert.Equal("auto", c.Device);
        Assert.Equal([0], c.Seeds);
        Assert.Equal(StepMode.Standard, c.StepMode);
        var w = Assert.IsType<LlamaSpec>(c.Workload);
        Assert.Equal(("tiny", 128, (int?)null), (w.Size, w.SeqLen, w.Hidden));
        Assert.Equal(("moby-dick", "byte", 0.05), (w.Data.Corpus, w.Data.Tokenizer, w.Data.ValFraction));
        Assert.Equal(new TrainingConfig(), c.Training);
        Assert.Equal(new ScheduleConfig(), c.Schedule);
        var o = Assert.IsType<AdamWOptions>(Assert.Single(c.Optimizers).Options);
        Assert.Equal((1e-3, 1e-8, 0.0), (o.Lr, o.Eps, o.WeightDecay));
        Assert.Equal([0.9, 0.999], o.Betas);
        // A nested record given partly keeps the defaults of the keys left out.
        var partial = ConfigLoader.Parse("""
            name: t
            workload: { kind: llama, data: { tokenizer: gpt2 } }
            training: { steps: 7 }
            optimizers: [{ kind: lion }]
            """, "p.yaml");
        var pw = Assert.IsType<LlamaSpec>(partial.Workload);
        Assert.Equal(("moby-dick", "gpt2", 0.05), (pw.Data.Corpus, pw.Data.Tokenizer, pw.Data.ValFraction));
        Assert.Equal((7, 16), (partial.Training.Steps, partial.Training.BatchSize));
        Assert.Equal(1e-4, Assert.IsType<LionOptions>(partial.Optimizers[0].Options).Lr);
    }

    [Theory]
    [InlineData("standard", "float32", "constant", StepMode.Standard, TrainingDType.Float32, ScheduleKind.Constant)]
    [InlineData("fused_backward", "mixed", "cosine", StepMode.FusedBackward, TrainingDType.Mixed, ScheduleKind.Cosine)]
    [InlineData("standard", "bfloat16", "linear", StepMode.Standard, TrainingDType.Bfloat16, ScheduleKind.Linear)]
    public void EnumsBindFromSnakeCase(string mode, string dtype, string kind, StepMode m, TrainingDType d, ScheduleKind k)
    {
        var c = ConfigLoader.Parse($"""
            {ConfigTestKit.Minimal}
            step_mode: {mode}
            training: {"{"} dtype: {dtype} {"}"}
            schedule: {"{"} kind: {kind} {"}"}
            """, "e.yaml");
        Assert.Equal((m, d, k), (c.StepMode, c.Training.Dtype, c.Schedule.Kind));
    }

    [Fact]
    public void SweepsExpandAsCartesianProductFirstKeyOutermost()
    {
        var c = ConfigLoader.Parse("""
            name: sweep
            workload: { kind: llama }
            optimizers:
              - { kind: adamw, lr: 2.0e-3 }
              - kind: adamw
                label: adamw-sweep
                lr: 3.0e-3
                sweep: { lr: [1.0e-3, 3.0e-3, 1.0e-2], weight_decay: [0.0, 0.1] }
            """, "s.yaml");
        Assert.Equal(7, c.Optimizers.Count);
        Assert.Equal(
            [
                "adamw",
                "adamw-sweep lr=1.0e-3 weight_decay=0.0", "adamw-sweep lr=1.0e-3 weight_decay=0.1",
                "adamw-sweep lr=3.0e-3 weight_decay=0.0", "adamw-sweep lr=3.0e-3 weight_decay=0.1",
                "adamw-sweep lr=1.0e-2 weight_decay=0.0", "adamw-sweep lr=1.0e-2 weight_decay=0.1",
            ],
            c.Optimizers.Select(v => v.Label));
        Assert.Equal([0, 1, 1, 1, 1, 1, 1], c.Optimizers.Select(v => v.EntryIndex));
        var opts = c.Optimizers.Skip(1).Select(v => (AdamWOptions)v.Options).ToList();
        Assert.Equal([1e-3, 1e-3, 3e-3, 3e-3, 1e-2, 1e-2], opts.Select(o => o.Lr));
        Assert.Equal([0.0, 0.1, 0.0, 0.1, 0.0, 0.1], opts.Select(o => o.WeightDecay));
        Assert.Equal(
            [KeyValuePair.Create("lr", "1.0e-2"), KeyValuePair.Create("weight_decay", "0.1")],
            c.Optimizers[6].SweepValues);
        Assert.Empty(c.Optimizers[0].SweepValues);
    }

    [Fact]
    public void SweepWithoutLabelUsesTheKind()
    {
        var c = ConfigLoader.Parse("""
            name: s
            workload: { kind: llama }
            optimizers:
              - kind: lion
                sweep: { weight_decay: [0, 1] }
            """, "s.yaml");
        Assert.Equal(["lion weight_decay=0", "lion weight_decay=1"], c.Optimizers.Select(v => v.Label));
    }

    [Fact]
    public void OverridesChangeValuesIndexListsAndCreateMissingKeys()
    {
        var c = ConfigLoader.Parse(ConfigTestKit.Minimal + "\n    betas: [0.9, 0.999]\ntraining: { steps: 100 }", "o.yaml",
        [
            "training.steps=50",
            "optimizers.0.lr=3e-3",
            "seeds=[0,1,2]",
            "workload.data.tokenizer=gpt2",
            "schedule.kind=constant",
            "optimizers.0.betas.1=0.95",
            "description=from the command line",
        ]);
        Assert.Equal(50, c.Training.Steps);
        var o = Assert.IsType<AdamWOptions>(c.Optimizers[0].Options);
        Assert.Equal(3e-3, o.Lr);
        Assert.Equal([0.9, 0.95], o.Betas);
        Assert.Equal([0, 1, 2], c.Seeds);
        Assert.Equal("gpt2", Assert.IsType<LlamaSpec>(c.Workload).Data.Tokenizer);
        Assert.Equal(ScheduleKind.Constant, c.Schedule.Kind);
        Assert.Equal("from the command line", c.Description);

        // Later overrides see earlier ones; an index replaces one element of a list written in the file.
        var d = ConfigLoader.Parse(ConfigTestKit.Minimal + "\nseeds: [4, 5]", "o.yaml", ["seeds.1=7", "training={ steps: 20, timing_warmup_steps: 2 }"]);
        Assert.Equal([4, 7], d.Seeds);
        Assert.Equal((20, 2, 16), (d.Training.Steps, d.Training.TimingWarmupSteps, d.Training.BatchSize));
    }

    [Fact]
    public void OverrideThroughAnAliasChangesOnlyThePlaceItNames()
    {
        var c = ConfigLoader.Parse("""
            name: a
            workload: { kind: llama }
            optimizers:
              - &base { kind: adamw, lr: 1.0e-3 }
              - { kind: lion, betas: [0.9, 0.99] }
            """, "a.yaml", ["optimizers.0.weight_decay=0.5"]);
        Assert.Equal(0.5, ((AdamWOptions)c.Optimizers[0].Options).WeightDecay);
        Assert.Equal(0.0, ((LionOptions)c.Optimizers[1].Options).WeightDecay);
    }

    [Fact]
    public void AnchorsAndAliasesWithinBudgetBind()
    {
        var c = ConfigLoader.Parse("""
            name: aliases
            workload: { kind: llama, seq_len: 32 }
            optimizers:
              - { kind: adamw, betas: &b [0.85, 0.9] }
              - { kind: lion, betas: *b }
            """, "a.yaml");
        Assert.Equal([0.85, 0.9], ((LionOptions)c.Optimizers[1].Options).Betas);
        Assert.Equal(32, ((LlamaSpec)c.Workload).SeqLen);
    }

    [Fact]
    public void LoadReadsAFileAndRecordsItsPath()
    {
        var path = Path.Combine(Path.GetTempPath(), $"harness-config-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, ConfigTestKit.Minimal);
        try
        {
            var c = ConfigLoader.Load(path, ["training.steps=9"]);
            Assert.Equal(("t", path, 9), (c.Name, c.SourcePath, c.Training.Steps));
        }
        finally { File.Delete(path); }
    }
}
