using Harness.Core.Config;
using Harness.Core.Planning;
using Harness.Optimizers;
using Harness.Optimizers.AdamW;
using Harness.Optimizers.Kernels;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Harness.Tests.Forge;

/// <summary>
/// <c>forge_state</c> (FORGE's state kind, fp32 | bf16 | int8): parsing and the run spec, one-line errors with file and
/// line for combinations that have no such state, and AdamW's bf16 state on the slab (tensor-ops) path.
/// </summary>
public sealed class ForgeStateOptionTests(ITestOutputHelper output)
{
    private const string Yaml = """
        name: forge-states
        step_mode: fused_backward
        workload: { kind: llama, size: tiny }
        training:
          steps: 10
          dtype: mixed
        optimizers:
          - { kind: adamw, label: forge-fp32, forge_state: fp32 }
          - { kind: adamw, label: forge-bf16, forge_state: bf16 }
          - { kind: adam8bit, label: forge-int8, forge_state: int8 }
          - { kind: adamw, label: standard, step_mode: standard }
        """;

    [Fact]
    public void Entries_set_the_state_and_the_run_spec_carries_it_only_when_set()
    {
        var config = ConfigLoader.Parse(Yaml, "forge.yaml");
        Assert.Equal([ForgeStateKind.Fp32, ForgeStateKind.Bf16, ForgeStateKind.Int8, null], config.Optimizers.Select(v => v.ForgeState));
        var plan = Planner.Plan(config, "cpu");
        Assert.Equal([ForgeStateKind.Fp32, ForgeStateKind.Bf16, ForgeStateKind.Int8, null], plan.Select(r => r.Spec.Training.ForgeState));
        Assert.Equal("bf16", (string)plan[1].Spec.ToJson()["training"]!["forge_state"]!);
        Assert.False(plan[3].Spec.ToJson()["training"]!.AsObject().ContainsKey("forge_state"));
        Assert.Equal(4, plan.Select(r => r.RunId).Distinct().Count());
    }

    [Theory]
    [InlineData("label: forge-int8, forge_state: int8", "label: forge-int8, forge_state: bf16", 10, "use kind adamw")]
    [InlineData("label: forge-bf16, forge_state: bf16", "label: forge-bf16, forge_state: int8", 9, "use kind adam8bit")]
    [InlineData("label: standard, step_mode: standard", "label: standard, step_mode: standard, forge_state: bf16", 11, "fused_backward")]
    [InlineData("label: forge-bf16, forge_state: bf16", "label: forge-bf16, forge_state: bf8", 9, "fp32")]
    public void A_state_the_entry_cannot_keep_is_one_error_at_its_line(string from, string to, int line, string says)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(Yaml.Replace(from, to), "forge.yaml"));
        var problem = Assert.Single(e.Problems);
        output.WriteLine(problem.ToString());
        Assert.StartsWith($"forge.yaml:{line}:", problem.ToString());
        Assert.Contains("forge_state", problem.Message);
        Assert.Contains(says, problem.Message);
    }

    [Theory]
    [InlineData("bfloat16", "label: forge-fp32, forge_state: fp32", 8, "fp32 state needs fp32 weights")]
    [InlineData("float32", "label: forge-bf16, forge_state: bf16", 9, "bf16 state is for bf16 activations")]
    public void The_state_must_suit_the_training_dtype(string dtype, string keep, int line, string says)
    {
        // Only the entry under test keeps its forge_state.
        var yaml = Yaml.Replace("dtype: mixed", $"dtype: {dtype}");
        foreach (var other in new[] { "label: forge-fp32, forge_state: fp32", "label: forge-bf16, forge_state: bf16" }.Where(o => o != keep))
            yaml = yaml.Replace(other, other[..other.IndexOf(',')]);
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, "forge.yaml"));
        var problem = Assert.Single(e.Problems);
        output.WriteLine(problem.ToString());
        Assert.StartsWith($"forge.yaml:{line}:", problem.ToString());
        Assert.Contains(says, problem.Message);
    }

    /// <summary>
    /// FORGE's bf16 state on the tensor-ops path: the chosen weight keeps bf16 m and v (its fp32 weight and the other
    /// weights unchanged), and one step equals the fp32 rule stored to nearest.
    /// </summary>
    [Fact]
    public void Adamw_bf16_state_is_bf16_and_steps_as_the_fp32_rule_rounded_to_nearest()
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(7, CPU);
        var w = new NamedParameter("w", new TorchSharp.Modules.Parameter(randn([8, 16], generator: gen)), ParamRole.Matrix);
        var b = new NamedParameter("b", new TorchSharp.Modules.Parameter(randn([16], generator: gen)), ParamRole.Vector);
        using var adamw = new AdamW([w, b], new AdamWOptions { Lr = 1e-2, WeightDecay = 0.1, Implementation = ImplementationChoice.TensorOps });
        adamw.UseBf16StochasticState(w);
        var g = randn([8, 16], generator: gen);
        var p0 = w.Value.detach().clone();
        adamw.StepParameter(w, g, 1e-2);
        adamw.StepParameter(b, randn([16], generator: gen), 1e-2);
        var state = adamw.StateDict();
        Assert.Equal(ScalarType.BFloat16, state["w/exp_avg"].dtype);
        Assert.Equal(ScalarType.Float32, state["b/exp_avg"].dtype);
        Assert.Equal(ScalarType.Float32, w.Value.dtype);
        var m = g * 0.1;
        var v = g * g * 0.001;
        Assert.Equal(0, state["w/exp_avg"].ne(m.to(ScalarType.BFloat16)).sum().item<long>());
        Assert.Equal(0, state["w/exp_avg_sq"].ne(v.to(ScalarType.BFloat16)).sum().item<long>());
        var expected = p0 * (1 - 1e-3) - 1e-2 / 0.1 * m / (v.sqrt() / Math.Sqrt(0.001) + 1e-8);
        Assert.True((w.Value - expected).abs().max().item<float>() < 1e-5f);
        // Chosen after its state exists: refused.
        Assert.Throws<InvalidOperationException>(() => adamw.UseBf16StochasticState(b));
    }
}
