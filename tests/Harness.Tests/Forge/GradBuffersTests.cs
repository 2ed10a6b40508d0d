using Harness.Core.Config;
using Harness.Core.Running;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using Harness.Optimizers.AdamW;
using Harness.Tests.Core;
using static TorchSharp.torch;

namespace Harness.Tests.Forge;

/// <summary><c>training.grad_buffers</c>: kept gradients are zeroed in place and reused; the numbers do not change.</summary>
public sealed class GradBuffersTests
{
    private sealed class HostClock : IDeviceClock
    {
        public double Now() => 0;
    }

    // Trains 4 steps of the tiny LLaMA with AdamW; after each step records, per parameter, whether a gradient is
    // attached, whether it is all zeros, and whether it is the same buffer as after the first step (a value
    // written through the first step's tensor shows in the current one; written back to zero).
    private static (List<Tensor> Params, List<List<(bool Has, bool Zero, bool Same)>> Grads) Train(Func<IStepDriver> makeDriver)
    {
        using var workload = new LanguageModelWorkload(TestConfigs.TinyLlama(16), new WorkloadContext(3, CPU, ScalarType.Float32, 4));
        using var optimizer = new AdamW(workload.Parameters, new AdamWOptions { Lr = 3e-3, WeightDecay = 0.1 });
        var driver = makeDriver();
        var seen = new List<List<(bool, bool, bool)>>();
        var first = new Tensor?[workload.Parameters.Count];
        for (var step = 0; step < 4; step++)
        {
            using (NewDisposeScope())
                driver.TrainStep(workload, optimizer, [workload.NextBatch(Split.Train)], 1e-2, new StepTimings());
            seen.Add(workload.Parameters.Select((p, i) =>
            {
                using var g = p.Value.grad;
                if (g is null) return (false, false, false);
                var zero = g.eq(0).all().item<bool>();
                first[i] ??= g.detach();
                using (no_grad()) first[i]!.fill_(7f);
                var same = g.eq(7f).all().item<bool>();
                using (no_grad()) first[i]!.zero_();
                return (true, zero, same);
            }).ToList());
        }
        foreach (var t in first) t?.Dispose();
        (driver as IDisposable)?.Dispose();
        return (workload.Parameters.Select(p => p.Value.detach().clone().DetachFromDisposeScope()).ToList(), seen);
    }

    [Fact]
    public void Standard_driver_keeps_zeroed_buffers_at_the_same_address_and_the_same_parameters()
    {
        var free = Train(() => new StandardStepDriver(new HostClock(), 0));
        var keep = Train(() => new StandardStepDriver(new HostClock(), 0, null, GradBuffersMode.Keep));
        Assert.All(free.Grads.SelectMany(s => s), g => Assert.False(g.Has));
        Assert.All(keep.Grads.SelectMany(s => s), g => Assert.True(g.Has && g.Zero));
        Assert.All(keep.Grads.SelectMany(s => s), g => Assert.True(g.Same, "a kept gradient is not the first step's buffer"));
        for (var i = 0; i < free.Params.Count; i++)
            Assert.True(free.Params[i].eq(keep.Params[i]).all().item<bool>(), $"parameter {i} differs between grad_buffers free and keep");
    }

    [Fact]
    public void Fused_backward_keeps_only_the_other_parameters_buffers()
    {
        var free = Train(() => new ForgeStepDriver(new HostClock(), 8, 0));
        var keep = Train(() => new ForgeStepDriver(new HostClock(), 8, 0) { GradBuffers = GradBuffersMode.Keep });
        var last = keep.Grads[^1];
        // The fused linear weights never get a gradient; the embedding and the norms keep theirs, zeroed.
        Assert.Contains(last, g => !g.Has);
        Assert.Contains(last, g => g.Has);
        Assert.All(last.Where(g => g.Has), g => Assert.True(g.Zero));
        Assert.All(free.Grads[^1], g => Assert.False(g.Has));
        for (var i = 0; i < free.Params.Count; i++)
            Assert.True(free.Params[i].eq(keep.Params[i]).all().item<bool>(), $"parameter {i} differs between grad_buffers free and keep");
    }
}
