using Harness.Core.Config;
using Harness.Core.Planning;
using Harness.Core.Running;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using Harness.Optimizers.GaLore;
using Harness.Optimizers.LowRank;
using Harness.Optimizers.SubTrackPlusPlus;
using Harness.Optimizers.Swan;
using Harness.Tests.Core;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Harness.Tests.PerLayer;

/// <summary><c>step_mode: per_layer</c> against the standard driver on the tiny LLaMA, in fp32.</summary>
public sealed class PerLayerStepTests(ITestOutputHelper output)
{
    private sealed class HostClock : IDeviceClock
    {
        public double Now() => 0;
    }

    private static LanguageModelWorkload Tiny() =>
        new(TestConfigs.TinyLlama(16), new WorkloadContext(3, CPU, ScalarType.Float32, 4));

    // Q-GaLore (a tiny-LLaMA step takes ~2 s on CPU), SubTrack++ and SWAN: bit-identical here too when run (43, 23 and 16 s);
    // the conformance tests hold them to the property the equality rests on (order-independent per-parameter steps).
    // Ranks below the tiny model's widths (32, 64) and projector refreshes inside the 12 steps, so projections really run.
    private static IOptimizer Create(string kind, IReadOnlyList<NamedParameter> ps) => kind switch
    {
        "galore" => new Harness.Optimizers.GaLore.GaLore(ps, new GaLoreOptions { Lr = 1e-2, Rank = 8, UpdateProjGap = 5, WeightDecay = 0.1, Implementation = StepImplementation.TensorOps }),
        "subtrackpp" => new Harness.Optimizers.SubTrackPlusPlus.SubTrackPlusPlus(ps, new SubTrackPlusPlusOptions { Lr = 1e-2, Rank = 8, UpdateInterval = 5, Implementation = StepImplementation.TensorOps }),
        _ => new Harness.Optimizers.Swan.Swan(ps, new SwanOptions { Lr = 1e-3 }),
    };

    private const int Steps = 12;

    // A warm-up then cosine-like decay: every step has its own learning rate.
    private static double Lr(int step) => 1e-2 * Math.Min(1.0, (step + 1) / 4.0) * (0.55 + 0.45 * Math.Cos(Math.PI * step / Steps));

    private static List<Tensor> Train(string kind, IStepDriver driver, int microBatches, Action<LanguageModelWorkload, IOptimizer>? afterStep = null)
    {
        using var workload = Tiny();
        using var optimizer = Create(kind, workload.Parameters);
        for (var step = 0; step < Steps; step++)
        {
            using var scope = NewDisposeScope();
            var batches = Enumerable.Range(0, microBatches).Select(_ => workload.NextBatch(Split.Train)).ToList();
            driver.TrainStep(workload, optimizer, batches, Lr(step), new StepTimings());
            afterStep?.Invoke(workload, optimizer);
        }
        return workload.Parameters.Select(p => p.Value.detach().clone().DetachFromDisposeScope()).ToList();
    }

    [Theory]
    [InlineData("galore", 1)]
    [InlineData("galore", 2)]
    public void Per_layer_is_bit_identical_to_the_standard_step(string kind, int microBatches)
    {
        var standard = Train(kind, new StandardStepDriver(new HostClock(), 0), microBatches);
        using var perLayerDriver = new PerLayerStepDriver(new HostClock(), 0);
        var routed = new HashSet<string>(StringComparer.Ordinal);
        var perLayer = Train(kind, perLayerDriver, microBatches, (workload, _) =>
        {
            // After each step no routed weight holds a gradient: each was freed right after its update.
            foreach (var p in workload.Parameters.Where(p => perLayerDriver.Weights.ContainsKey(p.Name)))
            {
                using var grad = p.Value.grad;
                Assert.Null(grad);
                routed.Add(p.Name);
            }
        });
        using var initial = Tiny();
        var moved = 0;
        for (var i = 0; i < standard.Count; i++)
        {
            var differing = standard[i].ne(perLayer[i]).sum().item<long>();
            Assert.True(differing == 0, $"{kind} GA={microBatches}: parameter {i} differs in {differing} elements after {Steps} steps");
            if (initial.Parameters[i].Value.ne(perLayer[i]).any().item<bool>()) moved++;
        }
        output.WriteLine($"{kind} GA={microBatches}: {standard.Count} parameters bit-identical after {Steps} steps, {moved} moved; {routed.Count} weights stepped in the backward");
        // Guards the equality against a driver that never steps: every parameter moved from its initial value.
        Assert.Equal(standard.Count, moved);
        // q, k, v, o, gate, up, down, lm_head, each stepped once per training step inside the backward.
        Assert.Equal(8, perLayerDriver.Weights.Count);
        Assert.All(perLayerDriver.Weights.Values, w => Assert.Equal(Steps, w.Updates));
        foreach (var t in standard.Concat(perLayer)) t.Dispose();
    }

    [Fact]
    public void Clipping_is_refused_by_the_driver_and_by_the_config_loader_with_the_line()
    {
        var refused = Assert.Throws<NotSupportedException>(() => new PerLayerStepDriver(new HostClock(), 1.0));
        Assert.Contains("grad_clip", refused.Message);
        const string yaml = """
            name: layerwise
            step_mode: per_layer
            workload:
              kind: llama
              size: tiny
            training:
              steps: 10
              grad_clip: 1.0
            optimizers:
              - kind: galore
            """;
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, "layerwise.yaml"));
        var problem = Assert.Single(e.Problems);
        Assert.Equal(8, problem.Line);
        Assert.StartsWith("layerwise.yaml:8:", problem.ToString());
        Assert.Contains("per_layer", problem.Message);

        // Accumulation is accepted (the weights step in the last micro-batch's backward).
        var config = ConfigLoader.Parse(yaml.Replace("grad_clip: 1.0", "grad_accumulation: 2"), "layerwise.yaml");
        Assert.Equal(StepMode.PerLayer, config.StepMode);
        Assert.Equal(2, config.Training.GradAccumulation);
    }

    [Fact]
    public void The_planner_skips_an_optimizer_without_a_per_parameter_step_and_says_why()
    {
        var config = ConfigLoader.Parse("""
            name: layerwise
            step_mode: per_layer
            workload:
              kind: llama
              size: tiny
            training:
              steps: 10
            optimizers:
              - kind: galore
              - kind: gefen
            """, "layerwise.yaml");
        var runs = Planner.Plan(config, "cpu");
        Assert.Null(runs.Single(r => r.Variant.Kind == "galore").SkipReason);
        var gefen = runs.Single(r => r.Variant.Kind == "gefen").SkipReason;
        Assert.NotNull(gefen);
        Assert.Contains("PerParameterStep", gefen);
        Assert.Contains("per_layer", gefen);
    }
}
