using System.Globalization;
using Harness.Core.Config;
using Harness.Core.Running;
using Harness.Experiments.Data;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using Harness.Optimizers.AdamW;
using Harness.Optimizers.Kernels;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;

namespace Harness.Core.Checks;

/// <summary>
/// Whole-run equivalence of the fused optimizer steps: a <see cref="WholeRunSetup"/> training run (a LLaMA with a slice of
/// GPT-2's vocabulary, cosine schedule with warm-up) stepped by the <c>tensor-ops</c> and the <c>cuda-fused</c> implementation
/// of one optimizer, and FORGE's tile kernel against its slab path. The same code runs on CUDA (gpu-check) and on the
/// host-emulated build of the kernels on CPU (the test suite).
/// </summary>
/// <remarks>
/// Teacher-forced: each step's gradients come from one model and are handed to both implementations, and the fused (or
/// tile) side starts each step from the reference side's weights, so the comparison sees what the kernels do at every
/// step of a whole schedule, not the chaos of two free-running trajectories (a 1e-7 change of one step's gradients can
/// move a final loss by 0.04). Each optimizer keeps its own state throughout: codes, absmax and moments are compared
/// after the whole run. Parameters are compared in fp32 ulps of the largest of |p|, the step |Δp| and the peak learning
/// rate: an Adam-type step moves a weight by about the learning rate (8-bit Adam's zero-gradient rows by up to thousands
/// of it), so a rounding inside the step is an ulp of that size, and a weight smaller than the step has finer ulps than
/// the step's own rounding.
/// </remarks>
public static class WholeRunEquivalence
{
    /// <summary>
    /// Worst parameter difference, in ulps of max(|p|, peak lr), after any step (fused vs tensor-ops, tile vs slabs, each
    /// step from the same weights). The kernels apply the tensor ops' operations with the same roundings except where CPU
    /// torch divides by a scalar and the kernel multiplies by its reciprocal (as CUDA torch does) and, for Gefen, the order
    /// of Σg² (ulps of v): the step then differs by a few ulps of itself, and a step is at most about twice the learning
    /// rate (bias correction early on), so a weight lands within a few ulps of max(|p|, lr). Measured on the emulated
    /// kernels over 60 steps: AdamW 4, 8-bit Adam 3, Gefen 6.
    /// </summary>
    public const double ParameterUlps = 8;

    /// <summary>
    /// FORGE tile vs slabs: the two compute the weight gradient by different GEMMs (another summation order), and Adam's
    /// m/(√v + ε) magnifies that where |g| is near ε (a first step moves such a weight by a sizeable share of lr), so on a
    /// GPU the bound is this many times what the standard driver's whole-matrix GEMM differs from the slabs in the same
    /// lock-step (a third, equally valid order), when that exceeds <see cref="ParameterUlps"/>.
    /// </summary>
    public const double ForgeNoiseFactor = 2;

    /// <summary>FORGE tile vs slabs: m and v relative to each tensor's largest entry (the weight gradient summed in another order).</summary>
    public const double ForgeStateRelative = 1e-4;

    /// <summary>
    /// Each optimizer of <paramref name="optimizers"/>, tensor-ops vs cuda-fused, over one whole run: one forward and
    /// backward a step (the model trained by the first optimizer's tensor-ops instance) whose gradients go to every pair,
    /// each pair on its own copy of the weights. The fused copy starts every step from the tensor-ops copy's weights and
    /// keeps its own state. 8-bit codes and absmax must stay bit-identical, and so must every integer state; parameters
    /// within <see cref="ParameterUlps"/> after every step, floating states within the optimizer's <see cref="FusedOptimizerCase.StateRelative"/> at the end.
    /// </summary>
    public static IReadOnlyList<CheckResult> Compare(IReadOnlyList<FusedOptimizerCase> optimizers, Device device, FusedKernels kernels,
        string kernelStatus, WholeRunSetup setup)
    {
        ArgumentNullException.ThrowIfNull(optimizers);
        ArgumentNullException.ThrowIfNull(kernels);
        ArgumentNullException.ThrowIfNull(setup);
        using var scope = NewDisposeScope();
        using var tokens = Tokens(setup);
        using var workload = Workload(setup, device, tokens);
        var model = workload.Parameters;
        List<NamedParameter> Copy() => model.Select(p => new NamedParameter(p.Name, new Parameter(p.Value.detach().clone()), p.Role)).ToList();
        var pairs = optimizers.Select((c, k) =>
        {
            var (reference, copy) = (k == 0 ? model : Copy(), Copy());
            var tensorOps = c.Create(reference, ImplementationChoice.TensorOps, setup);
            var fused = c.Create(copy, ImplementationChoice.CudaFused, setup);
            ((IFusedKernelUser)tensorOps).AttachKernels(kernels, kernelStatus);
            ((IFusedKernelUser)fused).AttachKernels(kernels, kernelStatus);
            return new Pair(c, reference, copy, tensorOps, fused);
        }).ToList();
        try
        {
            var schedule = Schedule(setup);
            var embedding = model.Select((p, i) => (p, i)).First(x => x.p.Role == ParamRole.Embedding).i;
            long zeroRows = 0;
            for (var step = 0; step < setup.Steps; step++)
            {
                using var stepScope = NewDisposeScope();
                var lr = setup.Lr * schedule.Multiplier(step, setup.Steps);
                using (var batch = workload.NextBatch(Split.Train))
                    workload.Loss(batch).backward();
                zeroRows = Math.Max(zeroRows, model[embedding].Value.grad!.abs().sum(1).eq(0).sum().cpu().item<long>());
                var grads = model.Select(p => p.Value.grad!.detach().clone()).ToList();
                foreach (var pair in pairs)
                {
                    using (no_grad())
                        foreach (var (fused, reference) in pair.Copy.Zip(pair.Reference)) fused.Value.copy_(reference.Value);
                    var before = pair.Reference.Select(p => p.Value.detach().clone()).ToList();
                    for (var i = 0; i < model.Count; i++)
                    {
                        if (!ReferenceEquals(pair.Reference, model)) pair.Reference[i].Value.grad = grads[i].clone();
                        pair.Copy[i].Value.grad = grads[i].clone();
                    }
                    pair.TensorOps.Step(lr);
                    pair.Fused.Step(lr);
                    pair.TensorOps.ZeroGrad();
                    pair.Fused.ZeroGrad();
                    var (ulps, identical, total) = Ulps(pair.Copy.Select(p => p.Value).ToList(), pair.Reference.Select(p => p.Value).ToList(), setup.Lr, before);
                    if (ulps > pair.WorstUlps) (pair.WorstUlps, pair.WorstStep) = (ulps, step + 1);
                    (pair.Identical, pair.Total) = (pair.Identical + identical, pair.Total + total);
                }
            }
            return pairs.Select(p => Judge(p, setup, zeroRows, model[embedding].Value.shape[0])).ToList();
        }
        finally
        {
            foreach (var p in pairs)
            {
                p.TensorOps.Dispose();
                p.Fused.Dispose();
            }
        }
    }

    private sealed class Pair(FusedOptimizerCase optimizer, IReadOnlyList<NamedParameter> reference, IReadOnlyList<NamedParameter> copy,
        IOptimizer tensorOps, IOptimizer fused)
    {
        public FusedOptimizerCase Optimizer { get; } = optimizer;
        public IReadOnlyList<NamedParameter> Reference { get; } = reference;
        public IReadOnlyList<NamedParameter> Copy { get; } = copy;
        public IOptimizer TensorOps { get; } = tensorOps;
        public IOptimizer Fused { get; } = fused;
        public double WorstUlps { get; set; }
        public int WorstStep { get; set; }
        public long Identical { get; set; }
        public long Total { get; set; }
    }

    private static CheckResult Judge(Pair pair, WholeRunSetup setup, long zeroRows, long rows)
    {
        var (tensorOps, fused) = (pair.TensorOps, pair.Fused);
        var states = CompareStates(tensorOps.StateDict(), fused.StateDict());
        var implementations = $"{fused.Implementation} vs {tensorOps.Implementation}";
        var problems = new List<string>();
        if (!fused.Implementation.StartsWith(ImplementationChoice.CudaFused, StringComparison.Ordinal) || tensorOps.Implementation != ImplementationChoice.TensorOps)
            problems.Add($"ran as {implementations}");
        if (zeroRows == 0) problems.Add("no embedding row had a zero gradient (the setup's vocabulary is too small for row-sparse gradients)");
        if (pair.WorstUlps > ParameterUlps) problems.Add(Invariant($"parameters {pair.WorstUlps:F1} ulps apart after step {pair.WorstStep} (bound {ParameterUlps})"));
        if (states.CodesDiffer > 0) problems.Add($"{states.CodesDiffer} codes differ");
        if (states.ExactDiffer > 0) problems.Add($"{states.ExactDiffer} absmax or integer state entries differ");
        var stateBound = pair.Optimizer.StateRelative;
        if (states.WorstRelative > stateBound) problems.Add(Invariant($"floating state {states.WorstRelative:E2} apart (bound {stateBound:E0})"));
        var detail = Invariant($"{implementations}; parameters: {pair.Identical}/{pair.Total} bit-identical after their steps, ")
            + Invariant($"worst {pair.WorstUlps:F2} ulps of max(|p|, |Δp|, lr) at step {pair.WorstStep} (bound {ParameterUlps}); ")
            + Invariant($"{states.CodesDiffer}/{states.Codes} codes and {states.ExactDiffer}/{states.Exact} absmax/integer entries differ at the end; ")
            + Invariant($"floating state worst {states.WorstRelative:E2} (bound {stateBound:E0}); up to {zeroRows}/{rows} embedding rows without a gradient in a step")
            + (problems.Count == 0 ? "" : "; FAILED: " + string.Join("; ", problems));
        return new($"{pair.Optimizer.Kind} cuda-fused = tensor-ops over a whole run ({setup.Describe()}, wd {setup.WeightDecay})", problems.Count == 0, detail);
    }

    /// <summary>
    /// FORGE (<c>step_mode: fused_backward</c>) with AdamW on the kernels: <c>forge_kernel: tile</c> against <c>slabs</c> over
    /// the whole run, with the standard driver (autograd's whole-matrix GEMM, then the fused AdamW step) as a third model.
    /// The tile and standard models start every step from the slab model's weights, so each step compares the routes on
    /// the same activations. Parameters: tile vs slabs within max(<see cref="ParameterUlps"/>, <see cref="ForgeNoiseFactor"/>
    /// × standard vs slabs) after every step (the GEMMs sum in different orders; on the emulated kernels tile and slabs
    /// agree bit for bit); m and v within <see cref="ForgeStateRelative"/> at the end.
    /// </summary>
    public static CheckResult CompareForgeTile(Device device, FusedKernels kernels, NativeForge? native, WholeRunSetup setup)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        ArgumentNullException.ThrowIfNull(setup);
        var name = $"FORGE tile = slabs over a whole run ({setup.Describe()}, AdamW wd {setup.WeightDecay})";
        using var scope = NewDisposeScope();
        using var tokens = Tokens(setup);
        using var slabModel = Workload(setup, device, tokens);
        using var tileModel = Workload(setup, device, tokens);
        using var standardModel = Workload(setup, device, tokens);
        using var slabOptimizer = ForgeAdamW(slabModel.Parameters, kernels, setup.WeightDecay);
        using var tileOptimizer = ForgeAdamW(tileModel.Parameters, kernels, setup.WeightDecay);
        using var standardOptimizer = ForgeAdamW(standardModel.Parameters, kernels, setup.WeightDecay);
        using var slabs = new ForgeStepDriver(new NoClock(), setup.SlabRows, 0, FusedClipMode.None, native) { Kernel = ForgeKernelMode.Slabs };
        using var tile = new ForgeStepDriver(new NoClock(), setup.SlabRows, 0, FusedClipMode.None, native) { Kernel = ForgeKernelMode.Tile };
        var standard = new StandardStepDriver(new NoClock(), 0);
        var schedule = Schedule(setup);
        double worstUlps = 0, worstStandard = 0, worstExcess = 0;
        int worstStep = 0, worstStandardStep = 0;
        for (var step = 0; step < setup.Steps; step++)
        {
            using var stepScope = NewDisposeScope();
            using (no_grad())
                foreach (var (s, (t, d)) in slabModel.Parameters.Zip(tileModel.Parameters.Zip(standardModel.Parameters)))
                {
                    t.Value.copy_(s.Value);
                    d.Value.copy_(s.Value);
                }
            var lr = setup.Lr * schedule.Multiplier(step, setup.Steps);
            // The three workloads draw the same windows: same seed, same generator.
            using (var batch = slabModel.NextBatch(Split.Train)) slabs.TrainStep(slabModel, slabOptimizer, [batch], lr, new StepTimings());
            using (var batch = tileModel.NextBatch(Split.Train)) tile.TrainStep(tileModel, tileOptimizer, [batch], lr, new StepTimings());
            using (var batch = standardModel.NextBatch(Split.Train)) standard.TrainStep(standardModel, standardOptimizer, [batch], lr, new StepTimings());
            var slabWeights = slabModel.Parameters.Select(p => p.Value).ToList();
            var (ulps, _, _) = Ulps(tileModel.Parameters.Select(p => p.Value).ToList(), slabWeights, setup.Lr);
            var (noise, _, _) = Ulps(standardModel.Parameters.Select(p => p.Value).ToList(), slabWeights, setup.Lr);
            if (ulps > worstUlps) (worstUlps, worstStep) = (ulps, step + 1);
            if (noise > worstStandard) (worstStandard, worstStandardStep) = (noise, step + 1);
            worstExcess = Math.Max(worstExcess, ulps - Math.Max(ParameterUlps, ForgeNoiseFactor * noise));
        }
        var states = CompareStates(slabOptimizer.StateDict(), tileOptimizer.StateDict());
        var problems = new List<string>();
        if (slabs.KernelUsed != ForgeLinearLayer.SlabsKernel || tile.KernelUsed != ForgeLinearLayer.TileKernel)
            problems.Add($"kernels ran: {slabs.KernelUsed} and {tile.KernelUsed}");
        if (tile.Layers.Values.Any(l => l.TileUpdates != setup.Steps))
            problems.Add($"tile updates per layer: {string.Join(",", tile.Layers.Values.Select(l => l.TileUpdates).Distinct())} for {setup.Steps} steps");
        if (worstExcess > 0 || !double.IsFinite(worstUlps))
            problems.Add(Invariant($"parameters up to {worstUlps:F1} ulps apart (step {worstStep}), {worstExcess:F1} over the step's bound"));
        if (states.ExactDiffer > 0) problems.Add($"{states.ExactDiffer} step counts differ");
        if (states.WorstRelative > ForgeStateRelative) problems.Add(Invariant($"m, v {states.WorstRelative:E2} apart (bound {ForgeStateRelative:E0})"));
        var detail = Invariant($"{tile.KernelUsed} vs {slabs.KernelUsed} ({tile.Layers.Count} fused weights, {tile.Route} route); ")
            + Invariant($"worst step {worstUlps:F2} ulps of max(|p|, lr) at step {worstStep}; standard vs slabs worst {worstStandard:F2} at step {worstStandardStep} ")
            + Invariant($"(bound per step max({ParameterUlps}, {ForgeNoiseFactor} x standard vs slabs)); m, v worst {states.WorstRelative:E2} at the end (bound {ForgeStateRelative:E0})")
            + (problems.Count == 0 ? "" : "; FAILED: " + string.Join("; ", problems));
        return new(name, problems.Count == 0, detail);
    }

    /// <summary>
    /// The GPT-2 tokens of the bundled Moby Dick (its first <see cref="WholeRunSetup.TextChars"/> characters), ids at or
    /// above <see cref="WholeRunSetup.Vocab"/> folded in (id mod Vocab).
    /// </summary>
    public static TokenStream Tokens(WholeRunSetup setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        var text = CorpusCatalog.ReadText("moby-dick");
        if (setup.TextChars > 0 && setup.TextChars < text.Length) text = text[..setup.TextChars];
        var ids = Gpt2Tokenizer.Create().Encode(text);
        for (var i = 0; i < ids.Length; i++) ids[i] %= setup.Vocab;
        return new TokenStream(ids, setup.Vocab, 0.05, setup.SeqLen + 1);
    }

    private static LanguageModelWorkload Workload(WholeRunSetup setup, Device device, TokenStream tokens) => new(new LlamaSpec
    {
        Size = "tiny", Hidden = setup.Hidden, Layers = setup.Layers, Heads = setup.Heads, Ffn = setup.Ffn, SeqLen = setup.SeqLen,
        Data = new TextDataSpec { Corpus = "moby-dick", Tokenizer = "gpt2" },
    }, new WorkloadContext(setup.Seed, device, ScalarType.Float32, setup.BatchSize), tokens);

    private static ScheduleConfig Schedule(WholeRunSetup setup) =>
        new() { Kind = ScheduleKind.Cosine, WarmupSteps = setup.WarmupSteps, MinRatio = setup.MinRatio };

    private static AdamW ForgeAdamW(IReadOnlyList<NamedParameter> ps, FusedKernels kernels, double weightDecay)
    {
        var adamw = new AdamW(ps, new AdamWOptions { Betas = [0.9, 0.95], WeightDecay = weightDecay, Implementation = ImplementationChoice.CudaFused });
        adamw.AttachKernels(kernels, "whole-run check");
        return adamw;
    }

    /// <summary>The worst |a − b| in fp32 ulps of max(|a|, |b|, minimum, |b − before|), the bit-identical elements and all elements.</summary>
    /// <param name="before">The weights before the step, where known: the step's own size then joins the magnitude (8-bit
    /// Adam's zero-gradient rows can step thousands of learning rates, and a rounding of such a step is an ulp of it).</param>
    private static (double WorstUlps, long Identical, long Total) Ulps(IReadOnlyList<Tensor> a, IReadOnlyList<Tensor> b, double minimum,
        IReadOnlyList<Tensor>? before = null)
    {
        double worst = 0;
        long identical = 0, total = 0;
        for (var i = 0; i < a.Count; i++)
        {
            using var scope = NewDisposeScope();
            var (x, y) = (a[i].detach().to(ScalarType.Float32), b[i].detach().to(ScalarType.Float32));
            var magnitude = x.abs().maximum(y.abs()).clamp_min(minimum);
            if (before is not null) magnitude = magnitude.maximum((y - before[i].to(ScalarType.Float32)).abs());
            var ulp = pow(2.0, floor(log2(magnitude)) - 23);
            var apart = ((x - y).abs() / ulp).max().cpu().item<float>();
            worst = float.IsFinite(apart) ? Math.Max(worst, apart) : double.PositiveInfinity;  // a NaN or inf weight fails the check
            identical += x.eq(y).sum().cpu().item<long>();
            total += x.numel();
        }
        return (worst, identical, total);
    }

    private sealed record StateComparison(long Codes, long CodesDiffer, long Exact, long ExactDiffer, double WorstRelative);

    /// <summary>
    /// uint8 states (8-bit and Gefen codes) and absmax and integer states entry by entry; the other floating states
    /// relative to each tensor's largest entry.
    /// </summary>
    private static StateComparison CompareStates(IReadOnlyDictionary<string, Tensor> reference, IReadOnlyDictionary<string, Tensor> fused)
    {
        long codes = 0, codesDiffer = 0, exact = 0, exactDiffer = 0;
        double worst = 0;
        foreach (var (key, t) in reference)
        {
            using var scope = NewDisposeScope();
            if (!fused.TryGetValue(key, out var other))
            {
                exactDiffer += t.numel();
                continue;
            }
            var differ = t.ne(other).sum().cpu().item<long>();
            if (t.dtype == ScalarType.Byte) (codes, codesDiffer) = (codes + t.numel(), codesDiffer + differ);
            else if (!t.is_floating_point() || key.Contains("absmax", StringComparison.Ordinal)) (exact, exactDiffer) = (exact + t.numel(), exactDiffer + differ);
            else if (t.numel() > 0)
            {
                var scale = Math.Max(t.abs().max().cpu().item<float>(), 1e-30f);
                worst = Math.Max(worst, (other.to(t.dtype) - t).abs().max().cpu().item<float>() / scale);
            }
        }
        return new(codes, codesDiffer, exact, exactDiffer, worst);
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private sealed class NoClock : IDeviceClock
    {
        public double Now() => 0;
    }
}
