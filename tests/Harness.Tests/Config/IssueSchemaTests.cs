using Harness.Core.Config;
using Harness.Core.Planning;
using Harness.Experiments.Workloads;
using Harness.Optimizers.AdamW;

namespace Harness.Tests.Config;

/// <summary>The schema as documented (issue 1 and the README) is the contract users write against.</summary>
public sealed class IssueSchemaTests
{
    private const string Documented = """
        name: quickstart                 # runs go to runs/<name>/
        description: "..."               # optional
        device: auto                     # auto | cpu | cuda | cuda:N
        seeds: [0]
        step_mode: standard              # standard | fused_backward (issue 5)
        workload:
          kind: llama                    # llama | gpt2 | mlp | cnn | vit (issue 2 adds all but a tiny llama)
          size: tiny                     # a preset, or explicit hidden/layers/heads/ffn
          seq_len: 128
          data: { corpus: moby-dick, tokenizer: gpt2, val_fraction: 0.05 }
        training:
          steps: 200
          batch_size: 16
          grad_accumulation: 1
          dtype: float32                 # float32 | bfloat16
          grad_clip: 0.0                 # 0 = off
          log_every: 10
          eval_every: 50
          eval_batches: 8
          timing_warmup_steps: 5         # excluded from throughput
        schedule: { kind: cosine, warmup_steps: 20, min_ratio: 0.1 }   # constant | linear | cosine
        optimizers:
          - { kind: adamw, lr: 1.0e-3, betas: [0.9, 0.999], eps: 1.0e-8, weight_decay: 0.0 }
          - kind: adamw
            lr: 3.0e-3
            sweep: { lr: [1.0e-3, 3.0e-3, 1.0e-2], weight_decay: [0.0, 0.1] }   # cartesian product, expanded by the planner
        """;

    [Fact]
    public void The_documented_example_loads_and_plans_each_configuration_once()
    {
        var config = ConfigLoader.Parse(Documented, "documented.yaml");
        Assert.Equal(7, config.Optimizers.Count);
        Assert.Equal("gpt2", ((LlamaSpec)config.Workload).Data.Tokenizer);
        Assert.Equal(0.999, ((AdamWOptions)config.Optimizers[0].Options).Betas[1]);

        // The plain entry (lr 1e-3, wd 0) is also the sweep's first point: it runs once, under the first label.
        var plan = Planner.Plan(config, "cpu");
        Assert.Equal(6, plan.Count);
        Assert.Equal("adamw", plan[0].Variant.Label);
        Assert.DoesNotContain(plan, p => p.Variant.Label == "adamw lr=1.0e-3 weight_decay=0.0");
        Assert.Contains(plan, p => p.Variant.Label == "adamw lr=1.0e-2 weight_decay=0.1");
    }

    [Fact]
    public void The_bundled_quickstart_is_valid()
    {
        var root = TestPaths.RepoRoot();
        var config = ConfigLoader.Load(Path.Combine(root, "configs", "quickstart.yaml"));
        Assert.Equal("quickstart", config.Name);
        // Every optimizer of the catalog is in the default comparison or in configs/beyond.yaml (Muon, Adafactor,
        // APOLLO, Adam-mini: kept out so the quickstart stays short), and FORGE runs beside standard AdamW.
        var beyond = ConfigLoader.Load(Path.Combine(root, "configs", "beyond.yaml"));
        Assert.Equal(Harness.Optimizers.OptimizerCatalog.All.Select(d => d.Kind).Order(),
            config.Optimizers.Concat(beyond.Optimizers).Select(o => o.Kind).Distinct().Order());
        Assert.Contains(config.Optimizers, o => o.Kind == "adamw" && o.StepMode == StepMode.FusedBackward);
        Assert.All(Planner.Plan(config, "cpu"), p => Assert.Null(p.SkipReason));
        Assert.All(Planner.Plan(beyond, "cpu"), p => Assert.Null(p.SkipReason));
    }
}

public sealed class WorkloadValidationTests
{
    [Theory]
    [InlineData("size: huge", 4, 9, "workload.size: unknown size 'huge'; known sizes: tiny, 9m")]
    [InlineData("hidden: 130\n  heads: 4", 5, 10, "workload.heads: hidden (130) must be divisible by heads (4)")]
    [InlineData("hidden: 132\n  heads: 4", 5, 10, "must be even for rotary embeddings")]
    [InlineData("data: { corpus: war-and-peace }", 4, 19, "workload.data.corpus: unknown corpus 'war-and-peace'; built-in corpora: moby-dick")]
    [InlineData("data: { tokenizer: spm }", 4, 22, "workload.data.tokenizer: unknown tokenizer 'spm'; known: byte, gpt2")]
    public void Workload_problems_are_reported_at_load_time(string line, int expectedLine, int expectedColumn, string message)
    {
        var yaml = $"name: w\nworkload:\n  kind: llama\n  {line}\noptimizers:\n  - {{ kind: adamw }}\n";
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, "w.yaml"));
        var problem = Assert.Single(e.Problems);
        Assert.Equal(expectedLine, problem.Line);
        Assert.Equal(expectedColumn, problem.Column);
        Assert.Contains(message, problem.Message);
    }
}

public sealed class StepModeOverrideTests
{
    private const string Yaml = """
        name: forge
        workload: { kind: llama }
        training: { grad_clip: 0.0 }
        optimizers:
          - { kind: adamw, lr: 1.0e-3 }
          - { kind: adamw, label: forge-adamw, step_mode: fused_backward, lr: 1.0e-3 }
          - { kind: swan, step_mode: fused_backward }
        """;

    [Fact]
    public void An_entry_can_run_fused_backward_beside_the_standard_driver()
    {
        var config = ConfigLoader.Parse(Yaml, "forge.yaml");
        Assert.Equal([null, StepMode.FusedBackward, StepMode.FusedBackward], config.Optimizers.Select(o => o.StepMode));
        var plan = Planner.Plan(config, "cpu");
        Assert.Equal(3, plan.Count);
        Assert.Equal([StepMode.Standard, StepMode.FusedBackward, StepMode.FusedBackward], plan.Select(p => p.Spec.StepMode));
        Assert.NotEqual(plan[0].RunId, plan[1].RunId); // same options, other driver: another run
        Assert.Null(plan[1].SkipReason);
        Assert.Contains("SlabStep", plan[2].SkipReason);
    }

    [Fact]
    public void Clipping_with_a_fused_entry_is_an_error_at_the_grad_clip_line()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(Yaml.Replace("grad_clip: 0.0", "grad_clip: 1.0"), "forge.yaml"));
        var problem = Assert.Single(e.Problems);
        Assert.Equal(3, problem.Line);
        Assert.Contains("training.grad_clip: step_mode fused_backward ('forge-adamw')", problem.Message);
    }

    [Fact]
    public void A_bad_step_mode_value_is_reported_at_its_line()
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(Yaml.Replace("step_mode: fused_backward, lr", "step_mode: fused, lr"), "forge.yaml"));
        var problem = Assert.Single(e.Problems);
        Assert.Equal(6, problem.Line);
        Assert.Contains("optimizers[1].step_mode", problem.Message);
    }
}
