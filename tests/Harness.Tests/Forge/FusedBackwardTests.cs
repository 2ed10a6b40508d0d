using Harness.Core.Config;
using Harness.Core.Running;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using Harness.Optimizers.AdamW;
using Harness.Optimizers.Lion;
using Harness.Tests.Core;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Harness.Tests.Forge;

/// <summary>The FORGE driver against the standard one on the tiny LLaMA, in fp32.</summary>
public sealed class FusedBackwardTests(ITestOutputHelper output)
{
    private sealed class HostClock : IDeviceClock
    {
        public double Now() => 0;
    }

    private static LanguageModelWorkload Tiny() =>
        new(TestConfigs.TinyLlama(16), new WorkloadContext(3, CPU, ScalarType.Float32, 4));

    private static IOptimizer Create(string kind, IReadOnlyList<NamedParameter> ps) => kind switch
    {
        "adamw" => new AdamW(ps, new AdamWOptions { Lr = 3e-3, WeightDecay = 0.1 }),
        _ => new Lion(ps, new LionOptions { Lr = 3e-4, WeightDecay = 0.1 }),
    };

    /// <summary>Trains <paramref name="steps"/> steps and returns the final parameters (and the driver's layers, if fused).</summary>
    private static List<Tensor> Train(string kind, IStepDriver driver, int steps, int microBatches)
    {
        using var workload = Tiny();
        using var optimizer = Create(kind, workload.Parameters);
        for (var step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            var batches = Enumerable.Range(0, microBatches).Select(_ => workload.NextBatch(Split.Train)).ToList();
            driver.TrainStep(workload, optimizer, batches, 1e-2 * (step + 1) / steps, new StepTimings());
        }
        return workload.Parameters.Select(p => p.Value.detach().clone().DetachFromDisposeScope()).ToList();
    }

    private double MaxRelativeDifference(List<Tensor> a, List<Tensor> b)
    {
        var worst = 0.0;
        for (var i = 0; i < a.Count; i++)
        {
            var rel = (a[i] - b[i]).norm().item<float>() / a[i].norm().item<float>();
            worst = Math.Max(worst, rel);
        }
        return worst;
    }

    [Theory]
    [InlineData("adamw", 1, 32)]
    [InlineData("adamw", 2, 32)]
    [InlineData("adamw", 1, 7)]
    [InlineData("lion", 1, 32)]
    [InlineData("lion", 2, 5)]
    public void Fused_backward_matches_the_standard_driver(string kind, int microBatches, long slabRows)
    {
        var standard = Train(kind, new StandardStepDriver(new HostClock(), 0), 10, microBatches);
        using var fusedDriver = new FusedBackwardStepDriver(new HostClock(), slabRows, 0);
        var fused = Train(kind, fusedDriver, 10, microBatches);
        var rel = MaxRelativeDifference(standard, fused);
        output.WriteLine($"{kind} GA={microBatches} slab={slabRows}: max relative parameter difference after 10 steps {rel:e2}");
        Assert.True(rel < 1e-6, $"relative difference {rel:e2}");
        // Every projection was fused and stepped once per step, never via a whole gradient.
        Assert.Equal(8, fusedDriver.Layers.Count); // q, k, v, o, gate, up, down, lm_head
        foreach (var layer in fusedDriver.Layers.Values)
            Assert.Equal(10, layer.Updates);
        foreach (var t in standard.Concat(fused)) t.Dispose();
    }

    [Fact]
    public void Fused_weights_never_get_a_whole_gradient()
    {
        using var workload = Tiny();
        using var optimizer = new AdamW(workload.Parameters, new AdamWOptions());
        using var driver = new FusedBackwardStepDriver(new HostClock(), 8, 0);
        var fusedNames = workload.RoutableWeights.ToHashSet();
        Assert.Contains("lm_head.weight", fusedNames);
        Assert.DoesNotContain("model.embed_tokens.weight", fusedNames);
        for (var step = 0; step < 3; step++)
        {
            using var scope = NewDisposeScope();
            driver.TrainStep(workload, optimizer, [workload.NextBatch(Split.Train)], 1e-3, new StepTimings());
            foreach (var p in workload.Parameters.Where(p => fusedNames.Contains(p.Name)))
                Assert.Null(p.Value.grad);
        }
        foreach (var (name, layer) in driver.Layers)
        {
            var weight = workload.Parameters.Single(p => p.Name == name).Value;
            // Largest weight-gradient tensor = one slab of 8 rows (the driver also throws if .grad were ever set).
            Assert.Equal(Math.Min(8, weight.shape[0]) * weight.shape[1], layer.LargestGradientElements);
            Assert.True(layer.LargestGradientElements < weight.numel());
            Assert.Equal(3, layer.Updates);
        }
        // The optimizer counted one step per training step for a fused weight, not one per slab.
        using var stateScope = NewDisposeScope();
        Assert.Equal(3L, optimizer.StateDict()["lm_head.weight/step"].item<long>());
    }

    [Fact]
    public void Clipping_is_refused_by_the_driver_and_by_the_config_loader_with_the_line()
    {
        Assert.Throws<NotSupportedException>(() => new FusedBackwardStepDriver(new HostClock(), 8, 1.0));
        const string yaml = """
            name: forge
            step_mode: fused_backward
            workload:
              kind: llama
              size: tiny
            training:
              steps: 10
              grad_clip: 1.0
            optimizers:
              - kind: adamw
            """;
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, "forge.yaml"));
        var problem = Assert.Single(e.Problems);
        Assert.Equal(8, problem.Line);
        Assert.Contains("grad_clip", problem.Message);
    }

    [Fact]
    public void An_error_inside_the_backward_surfaces_after_it_as_an_exception()
    {
        using var workload = Tiny();
        var optimizer = new AdamW(workload.Parameters, new AdamWOptions());
        using var driver = new FusedBackwardStepDriver(new HostClock(), 8, 0);
        using var scope = NewDisposeScope();
        driver.TrainStep(workload, optimizer, [workload.NextBatch(Split.Train)], 1e-3, new StepTimings());
        optimizer.Dispose(); // the fused layers' optimizer now throws inside the backward
        Assert.Throws<ObjectDisposedException>(() => driver.TrainStep(workload, optimizer, [workload.NextBatch(Split.Train)], 1e-3, new StepTimings()));
    }

    [Fact]
    public void A_non_elementwise_optimizer_is_refused()
    {
        using var workload = Tiny();
        using var swan = new Harness.Optimizers.Swan.Swan(workload.Parameters, new Harness.Optimizers.Swan.SwanOptions());
        using var driver = new FusedBackwardStepDriver(new HostClock(), 8, 0);
        using var scope = NewDisposeScope();
        var e = Assert.Throws<NotSupportedException>(() => driver.TrainStep(workload, swan, [workload.NextBatch(Split.Train)], 1e-3, new StepTimings()));
        Assert.Contains("slab", e.Message);
    }
}
