using System.Globalization;
using Harness.Optimizers;
using Harness.Optimizers.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Harness.Core.Checks;

/// <summary>
/// The GPU equivalence checks of the fused kernels: the same parameters and gradients stepped by the
/// <c>cuda-fused</c> and the <c>tensor-ops</c> implementation of one optimizer, on CUDA; parameters compared
/// element by element (bit-identical count and worst relative difference) and quantized states compared code
/// by code (flips counted and bounded). Every optimizer of the catalog with <see cref="OptimizerTraits.HasCudaKernel"/> takes
/// part; its fp32 bound comes from its catalog line (<see cref="CheckSettings.FusedBoundFloat32"/>).
/// </summary>
public static class FusedEquivalence
{
    /// <summary>
    /// The optimizers with a fused kernel whose catalog line gives check options, in catalog order. GaLore and SubTrack++
    /// send only their full-rank parameters through the AdamW kernel and give none: their fused part is AdamW's, checked
    /// here as AdamW, and their batched/fused path against tensor-ops by the emulated tests.
    /// </summary>
    public static IReadOnlyList<OptimizerDescriptor> Optimizers { get; } =
        OptimizerCatalog.All.Where(d => d.Traits.HasFlag(OptimizerTraits.HasCudaKernel) && d.Checks.Options is not null).ToList();

    /// <summary>One line naming a check.</summary>
    public static string Describe(OptimizerDescriptor d, ScalarType dtype) =>
        $"{d.Kind} cuda-fused equals tensor-ops ({dtype.ToString().ToLowerInvariant()}, 6 steps)";

    // Shapes that exercise vector tails, partial 8-bit blocks, the fp32 path of small tensors, Gefen's
    // P = 1 runs and segments longer than the kernel's register cache.
    private static readonly long[][] Shapes = [[96, 768], [37, 1377], [300], [513, 3000], [4, 20000], [2048]];

    public static (bool Ok, string Detail) Compare(OptimizerDescriptor descriptor, ScalarType dtype, FusedKernels kernels, string status)
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(11, CPU);
        // Row-structured gradients (one scale per row), as real weight gradients have, so Gefen finds P = row length.
        var init = Shapes.Select(s => randn(s, generator: gen)).ToArray();
        var rowScale = Shapes.Select(s => exp(randn(s.Length == 2 ? new[] { s[0], 1L } : new[] { 1L }, generator: gen) * 2) * 0.01).ToArray();
        var grads = Enumerable.Range(0, 6).Select(_ => Shapes.Select((s, i) => (randn(s, generator: gen) * rowScale[i]).to(dtype).to(CUDA)).ToArray()).ToArray();

        (Tensor[] Params, IReadOnlyDictionary<string, Tensor> State, string Impl) Run(string implementation)
        {
            var ps = init.Select((t, i) => new NamedParameter($"p{i}", new TorchSharp.Modules.Parameter(t.to(dtype).to(CUDA).clone()),
                t.dim() == 2 ? ParamRole.Matrix : ParamRole.Vector)).ToList();
            var options = (descriptor.Checks.Options ?? throw new ArgumentException($"{descriptor.Kind}: no check options on its catalog line"))(
                descriptor.DefaultOptions().Lr, 0.01, implementation);
            var opt = descriptor.Create(ps, options);
            ((IFusedKernelUser)opt).AttachKernels(kernels, status);
            foreach (var step in grads)
            {
                for (var i = 0; i < ps.Count; i++) ps[i].Value.grad = step[i].clone();
                opt.Step(1e-3);
                opt.ZeroGrad();
            }
            var state = opt.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().clone().cpu());
            var impl = opt.Implementation;
            opt.Dispose();
            return (ps.Select(p => p.Value.detach().to(ScalarType.Float32).cpu()).ToArray(), state, impl);
        }

        var reference = Run(ImplementationChoice.TensorOps);
        var fused = Run(ImplementationChoice.CudaFused);
        if (fused.Impl != ImplementationChoice.CudaFused || reference.Impl != ImplementationChoice.TensorOps)
            return (false, $"implementations ran as {fused.Impl} and {reference.Impl}");

        long total = 0, identical = 0, beyondUlp = 0;
        double worst = 0;
        for (var i = 0; i < init.Length; i++)
        {
            var a = fused.Params[i];
            var b = reference.Params[i];
            total += a.numel();
            identical += a.eq(b).sum().item<long>();
            var moved = (b - init[i].to(dtype).to(ScalarType.Float32)).abs().max().item<float>();
            var diff = (a - b).abs();
            worst = Math.Max(worst, diff.max().item<float>() / Math.Max(moved, 1e-30));
            // One unit in the last place of the reference value in the parameter dtype (bf16: 8 significant bits).
            var ulp = exp2(b.abs().clamp_min(1e-30).log2().floor() - (dtype == ScalarType.BFloat16 ? 7 : 23));
            beyondUlp += diff.gt(ulp + 0.05 * moved).sum().item<long>();
        }
        long codes = 0, flips = 0;
        // Floating states by name (exp_avg, exp_avg_sq, ...): elements that differ and the worst difference relative
        // to the state's largest magnitude, so a mismatch points at the op that introduced it.
        var stateDiff = new SortedDictionary<string, (long Differ, long Total, double Worst)>(StringComparer.Ordinal);
        foreach (var (key, t) in reference.State)
        {
            if (t.dtype == ScalarType.Byte)
            {
                codes += t.numel();
                flips += t.ne(fused.State[key]).sum().item<long>();
                continue;
            }
            if (!t.is_floating_point()) continue;
            var name = key[(key.LastIndexOf('.') + 1)..];
            var a32 = fused.State[key].to(ScalarType.Float32);
            var b32 = t.to(ScalarType.Float32);
            var scale = Math.Max(b32.abs().max().item<float>(), 1e-30f);
            var prior = stateDiff.GetValueOrDefault(name);
            stateDiff[name] = (prior.Differ + a32.ne(b32).sum().item<long>(), prior.Total + t.numel(),
                Math.Max(prior.Worst, (a32 - b32).abs().max().item<float>() / scale));
        }
        var states = string.Join(", ", stateDiff.Select(kv => FormattableString.Invariant($"{kv.Key} {kv.Value.Differ}/{kv.Value.Total} differ (worst {kv.Value.Worst:E2})")));
        // fp32: the same ops with the same roundings, so AdamW agrees to rounding and the others differ only through
        // reduction order (Gefen's Σg²) and the rare code flips it causes. bf16: one rounding that lands on the other
        // side moves a parameter by a bf16 ulp, which can exceed a whole step, so bf16 bounds the share of elements
        // more than one ulp (+ 5 % of the largest step) apart instead of the worst difference.
        var fp32 = dtype == ScalarType.Float32;
        var bound = fp32 ? descriptor.Checks.FusedBoundFloat32 : 1e-3;
        var measured = fp32 ? worst : (double)beyondUlp / total;
        var flipBound = fp32 ? 1e-3 : 1e-2;
        var flipRate = codes == 0 ? 0 : (double)flips / codes;
        var ok = measured <= bound && flipRate <= flipBound;
        var what = fp32
            ? FormattableString.Invariant($"worst difference {worst:E2} of the largest update (bound {bound:E0})")
            : FormattableString.Invariant($"{beyondUlp} more than one bf16 ulp apart ({measured:E2}, bound {bound:E0}; worst {worst:E2} of the largest update)");
        return (ok, string.Create(CultureInfo.InvariantCulture,
            $"{identical}/{total} parameters bit-identical, {what}; {flips}/{codes} codes differ ({flipRate:E2}, bound {flipBound:E0}); states: {states}"));
    }
}
