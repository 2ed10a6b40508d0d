using Harness.Core.Config;
using Harness.Core.Running;
using Harness.Experiments.Data;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Core.Checks;

/// <summary>
/// The <c>gpu-check</c> checks of FORGE (<c>step_mode: fused_backward</c>; Kukreja et al., arXiv 2606.22932,
/// reference code dk4248/FORGE): a few steps of the tiny LLaMA in fp32 through the standard driver, the
/// fused driver on the managed TorchSharp function, and the fused driver on the native libtorch function,
/// whose final parameters must agree to 1e-6 relative. Runs on any device; without a native function it
/// compares the managed route with the standard driver only. The cases are those of the catalog's
/// <see cref="OptimizerTraits.SlabStep"/> optimizers (<see cref="CheckSettings.ForgeRouteCases"/>).
/// </summary>
public static class ForgeRouteEquivalence
{
    /// <summary>The cases the GPU check runs: each slab-stepping optimizer of the catalog with each of its route cases.</summary>
    public static IReadOnlyList<(OptimizerDescriptor Optimizer, ForgeRouteCase Case)> Cases { get; } =
        OptimizerCatalog.All.Where(d => d.Traits.HasFlag(OptimizerTraits.SlabStep)).SelectMany(d => d.Checks.ForgeRouteCases.Select(c => (d, c))).ToList();

    /// <summary>Relative bound on the final parameters (fp32; the routes run the same slab arithmetic).</summary>
    public const double Bound = 1e-6;

    internal sealed class NoClock : IDeviceClock
    {
        public double Now() => 0;
    }

    /// <summary>One-line name of a case, for the check list.</summary>
    public static string Describe(OptimizerDescriptor d, ForgeRouteCase c) =>
        $"fused_backward {d.Kind} GA={c.MicroBatches} slab={c.SlabRows}{(c.Clip > 0 ? $" two-pass clip {c.Clip}" : "")}";

    /// <summary>
    /// Trains <paramref name="steps"/> steps on <paramref name="device"/> per route and compares the final parameters;
    /// true when every route present agrees with the standard driver within <see cref="Bound"/> and the fused
    /// routes ran as labelled (the native one when <paramref name="native"/> is given).
    /// </summary>
    public static (bool Ok, string Detail) Compare(Device device, NativeForge? native, OptimizerDescriptor descriptor, ForgeRouteCase c, int steps = 6)
    {
        var (microBatches, slabRows, clip) = (c.MicroBatches, c.SlabRows, c.Clip);
        var standard = Train(device, ScalarType.Float32, ps => Create(descriptor, ps), new StandardStepDriver(new NoClock(), clip), steps, microBatches, out var standardProblem);
        if (standardProblem is not null) return (false, $"standard driver: {standardProblem}");
        var parts = new List<string>();
        var ok = true;
        try
        {
            foreach (var route in native is null ? new NativeForge?[] { null } : [null, native])
            {
                using var driver = new ForgeStepDriver(new NoClock(), slabRows, clip, clip > 0 ? FusedClipMode.TwoPass : FusedClipMode.None, route);
                var fused = Train(device, ScalarType.Float32, ps => Create(descriptor, ps), driver, steps, microBatches, out var problem);
                var rel = MaxRelativeDifference(standard, fused);
                foreach (var t in fused) t.Dispose();
                var ran = driver.Layers.Values.Select(l => l.Route).Distinct().ToList();
                var expected = route is null ? ForgeLinearLayer.ManagedRoute : ForgeLinearLayer.NativeRoute;
                var routeOk = ran.Count == 1 && ran[0] == expected && driver.Route == expected;
                ok &= rel <= Bound && routeOk && problem is null;
                parts.Add($"{driver.Route} route ({string.Join("/", ran)} ran) vs standard {rel:E2}" + (problem is null ? "" : $", {problem}"));
            }
        }
        finally
        {
            foreach (var t in standard) t.Dispose();
        }
        if (native is null) parts.Add("native route not available");
        return (ok, $"{string.Join("; ", parts)} (bound {Bound:E0}, {steps} steps on {device})");
    }

    private static IOptimizer Create(OptimizerDescriptor d, IReadOnlyList<NamedParameter> ps) =>
        d.Create(ps, (d.Checks.Options ?? throw new ArgumentException($"no FORGE check for optimizer '{d.Kind}'", nameof(d)))(d.Checks.ForgeLr, 0.1, null));

    internal static LanguageModelWorkload Tiny(Device device, ScalarType dtype) => new(new LlamaSpec
    {
        Size = "tiny",
        Hidden = 32,
        Layers = 1,
        Heads = 2,
        Ffn = 64,
        SeqLen = 16,
        Data = new TextDataSpec { Corpus = "moby-dick", Tokenizer = "byte", ValFraction = 0.05 },
    }, new WorkloadContext(3, device, dtype, 4));

    /// <summary>The final parameters (on the CPU); <paramref name="problem"/> says what a fused driver did wrong, or is null.</summary>
    internal static List<Tensor> Train(Device device, ScalarType dtype, Func<IReadOnlyList<NamedParameter>, IOptimizer> create, IStepDriver driver,
        int steps, int microBatches, out string? problem)
    {
        using var workload = Tiny(device, dtype);
        using var optimizer = create(workload.Parameters);
        for (var step = 0; step < steps; step++)
        {
            using var scope = NewDisposeScope();
            var batches = Enumerable.Range(0, microBatches).Select(_ => workload.NextBatch(Split.Train)).ToList();
            driver.TrainStep(workload, optimizer, batches, 1e-2 * (step + 1) / steps, new StepTimings());
        }
        problem = null;
        if (driver is ForgeStepDriver fused)
        {
            // One update per training step for each fused layer; without accumulation no tensor as large as a
            // whole weight gradient (the slab height below the row count); fused weights never get a .grad.
            foreach (var (name, layer) in fused.Layers)
            {
                var weight = layer.Weight.Value;
                if (layer.Updates != steps) problem ??= $"{name}: {layer.Updates} updates in {steps} steps";
                if (microBatches == 1 && layer.SlabRows < weight.shape[0] && layer.LargestGradientElements >= weight.numel())
                    problem ??= $"{name}: a whole weight gradient ({layer.LargestGradientElements} elements) was formed";
                using var grad = weight.grad;
                if (grad is not null) problem ??= $"{name}: has a .grad";
            }
            // One optimizer step per training step for every fused weight, whatever carried it (slabs or the tile kernel).
            using var scope = NewDisposeScope();
            var state = optimizer.StateDict();
            foreach (var name in fused.Layers.Keys)
                if (state.TryGetValue($"{name}/step", out var count) && count.item<long>() != steps)
                    problem ??= $"{name}: optimizer step count {count.item<long>()} after {steps} steps";
        }
        return workload.Parameters.Select(p => p.Value.detach().cpu().clone().DetachFromDisposeScope()).ToList();
    }

    internal static double MaxRelativeDifference(List<Tensor> a, List<Tensor> b)
    {
        var worst = 0.0;
        for (var i = 0; i < a.Count; i++)
        {
            using var scope = NewDisposeScope();
            worst = Math.Max(worst, (a[i] - b[i]).norm().item<float>() / Math.Max(a[i].norm().item<float>(), 1e-30f));
        }
        return worst;
    }
}
