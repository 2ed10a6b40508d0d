using Harness.Core.Devices;
using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Core.Checks;

/// <summary>
/// The GPU test category (<c>harness gpu-check</c>; GPU hosts have no .NET SDK, so these checks ship in the bundle):
/// exact allocator accounting, CUDA event timing, every optimizer of the catalog on CUDA against the same optimizer on
/// the CPU, the fused optimizer kernels against tensor-ops (<see cref="FusedEquivalence"/>), FORGE's native and managed
/// fused_backward routes against the standard driver (<see cref="ForgeRouteEquivalence"/>) and FORGE's tile kernel
/// against its slab path (<see cref="ForgeTileEquivalence"/>, <see cref="ForgeTensorCoreEquivalence"/>). A check that throws fails with the exception's first line.
/// <paramref name="only"/>, when not empty, keeps the checks whose name contains one of its entries (case-insensitive); the
/// others are not run.
/// </summary>
public sealed class GpuChecks(DeviceSession session, IReadOnlyList<string>? only = null)
{
    private static readonly ScalarType[] DTypes = [ScalarType.Float32, ScalarType.BFloat16];

    /// <summary>Runs the checks one at a time, in order, yielding each result as it is known.</summary>
    public IEnumerable<CheckResult> Run() => All().OfType<CheckResult>();

    /// <summary>True when <paramref name="name"/> passes the <c>only</c> filter.</summary>
    public bool Wanted(string name) => only is not { Count: > 0 } || only.Any(o => name.Contains(o, StringComparison.OrdinalIgnoreCase));

    private IEnumerable<CheckResult?> All()
    {
        yield return Check("native probe loaded", () => (session.Memory?.Level == "allocator", session.ProbeStatus));
        yield return Check("allocator counts a 256 MiB tensor exactly", () =>
        {
            var memory = session.Memory!;
            var before = memory.Allocated;
            using var t = empty(64L * 1024 * 1024, dtype: ScalarType.Float32, device: CUDA);
            var delta = memory.Allocated - before;
            memory.ResetPeak();
            var peakAfterReset = memory.PeakSinceReset;
            return (delta == 256L << 20 && peakAfterReset == memory.Allocated, $"allocated +{delta} B, peak after reset {peakAfterReset} B = allocated {memory.Allocated} B");
        });
        yield return Check("peak sees a transient tensor", () =>
        {
            var memory = session.Memory!;
            memory.ResetPeak();
            var before = memory.Allocated;
            using (var t = empty(16L * 1024 * 1024, dtype: ScalarType.Float32, device: CUDA)) { }
            var rise = memory.PeakSinceReset - before;
            return (rise == 64L << 20 && memory.Allocated == before, $"peak rose {rise} B, allocated back to {memory.Allocated} B");
        });
        yield return Check("CUDA events time a matmul", () =>
        {
            using var timeline = session.NewTimeline();
            using var a = randn(4096, 4096, device: CUDA);
            var t0 = timeline.Mark();
            using (var c = a.matmul(a)) { }
            var t1 = timeline.Mark();
            var s = timeline.Seconds(t0, t1);
            return (s > 0 && s < 1, $"{s * 1e3:F3} ms ({timeline.Method})");
        });
        foreach (var d in OptimizerCatalog.All)
            yield return Check(DeviceEquivalence.Describe(d), () => DeviceEquivalence.Compare(d, CUDA));
        yield return Check("fused optimizer kernels loaded", () => (session.Kernels is not null, session.KernelStatus));
        if (session.Kernels is { } kernels)
        {
            foreach (var d in FusedEquivalence.Optimizers)
                foreach (var dtype in DTypes)
                    yield return Check(FusedEquivalence.Describe(d, dtype), () => FusedEquivalence.Compare(d, dtype, kernels, session.KernelStatus));
            foreach (var r in Checks("fused optimizers over a whole run",
                         () => WholeRunEquivalence.Compare(FusedOptimizerCase.All, CUDA, kernels, session.KernelStatus, WholeRunSetup.Cuda)))
                yield return r;
            foreach (var r in Checks("FORGE tile = slabs over a whole run",
                         () => [WholeRunEquivalence.CompareForgeTile(CUDA, kernels, session.Forge, WholeRunSetup.Cuda)]))
                yield return r;
            foreach (var c in QGaLoreRequantEquivalence.GpuCases)
                yield return Check($"{c} on CUDA", () => QGaLoreRequantEquivalence.Compare(CUDA, kernels, c));
        }
        yield return Check("native FORGE autograd function loaded", () => (session.Forge is not null, session.ForgeStatus));
        foreach (var (d, c) in ForgeRouteEquivalence.Cases)
            yield return Check($"{ForgeRouteEquivalence.Describe(d, c)}: native = managed = standard on CUDA",
                () => ForgeRouteEquivalence.Compare(CUDA, session.Forge, d, c));
        if (session.Kernels is { } forgeKernels)
        {
            yield return Check("FORGE tile kernel (hk_forge_adamw) in the fused-kernel library", () => (forgeKernels.HasForgeTile, forgeKernels.LibraryPath));
            foreach (var dtype in DTypes)
                yield return Check($"FORGE tile kernel: tile edges 32 and 64 agree bit for bit ({dtype.ToString().ToLowerInvariant()}, 1376x512 weight, 300 tokens)",
                    () => ForgeTileEquivalence.CompareTileEdges(CUDA, forgeKernels, dtype, 1376, 512, 300));
            foreach (var c in ForgeTileEquivalence.LayerCases.Concat(ForgeTileEquivalence.LargeLayerCases))
                yield return Check($"{ForgeTileEquivalence.Describe(c)} on CUDA", () => ForgeTileEquivalence.CompareLayer(CUDA, forgeKernels, c.DType, c.Rows, c.Cols,
                    c.Tokens, c.MicroBatches, c.Clip, c.WeightDecay));
            foreach (var c in ForgeTileEquivalence.ModelCases)
                yield return Check($"{ForgeTileEquivalence.Describe(c)} on CUDA", () => ForgeTileEquivalence.CompareModel(CUDA, forgeKernels, session.Forge, c.DType,
                    c.MicroBatches, c.Clip, c.WeightDecay));
            // Only in a build that has it (HARNESS_FORGE_TENSOR_CORES=1, DeviceSession; a failed build fails "fused optimizer
            // kernels loaded" above): the tensor-core kernel is not yet checked on a GPU.
            if (forgeKernels.HasForgeTensorCore)
            {
                foreach (var c in ForgeTensorCoreEquivalence.LayerCases.Concat(ForgeTensorCoreEquivalence.LargeLayerCases))
                    yield return Check($"{c} on CUDA", () => ForgeTensorCoreEquivalence.CompareLayer(CUDA, forgeKernels, c));
                foreach (var c in ForgeTensorCoreEquivalence.RoundingCases.Concat(ForgeTensorCoreEquivalence.LargeRoundingCases))
                    yield return Check($"{ForgeTensorCoreEquivalence.Describe(c)} on CUDA",
                        () => ForgeTensorCoreEquivalence.CompareStochasticRounding(CUDA, forgeKernels, c.Weight, c.Rows, c.Cols, c.Tokens, c.Splits));
                yield return Check("FORGE tensor-core tile kernel: time of one Llama-3-8B MLP weight (14336x4096, 512 tokens)",
                    () => ForgeTensorCoreEquivalence.TimeLlamaWeight(session, forgeKernels));
            }
        }
    }

    // Checks that return their own named results; an exception fails them as one.
    private IReadOnlyList<CheckResult> Checks(string name, Func<IReadOnlyList<CheckResult>> checks)
    {
        if (!Wanted(name)) return [];
        try
        {
            return checks();
        }
        catch (Exception e)
        {
            return [new(name, false, $"{e.GetType().Name}: {e.Message.Split('\n')[0]}")];
        }
    }

    private CheckResult? Check(string name, Func<(bool Ok, string Detail)> check)
    {
        if (!Wanted(name)) return null;
        try
        {
            var (ok, detail) = check();
            return new(name, ok, detail);
        }
        catch (Exception e)
        {
            return new(name, false, $"{e.GetType().Name}: {e.Message.Split('\n')[0]}");
        }
    }
}
