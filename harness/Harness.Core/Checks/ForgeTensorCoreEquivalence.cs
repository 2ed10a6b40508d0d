using Harness.Core.Config;
using Harness.Core.Running;
using Harness.Optimizers;
using Harness.Optimizers.Kernels;
using static TorchSharp.torch;

namespace Harness.Core.Checks;

/// <summary>
/// The <c>gpu-check</c> checks of FORGE's tensor-core tile kernel (<c>hk_forge_tc</c>: bf16 operands on mma.sync, fp32
/// accumulation, split-K, the update in the epilogue) against the slab path it replaces, with the same fused kernels
/// attached to both. The test suite runs the same comparisons on the host-emulated build (the same fragment layouts,
/// emulated per warp), so the bounds are the same on both.
/// </summary>
/// <remarks>
/// The operands are small integers (x in {−1, 0, 1}, dY in {−1, 0, 1}/8) and at most 512 tokens, so every partial sum
/// of the weight gradient is exact in fp32 and in bf16 whatever the summation order (the tensor cores', cuBLAS's,
/// MKL's): the tile kernel and the slabs then consume the same gradient, and the comparison isolates the kernel's
/// indexing, split-K reduction, epilogue and state handling. Bounds:
/// <list type="bullet">
/// <item>AdamW, state in the parameter's dtype (fp32 under <c>dtype: mixed</c>): p, m and v identical bit for bit.</item>
/// <item>8-bit Adam: every code within one code of the slabs' (the brief's bound; identical expected), absmax and p within
/// <see cref="Int8RelativeBound"/> of the slabs' largest.</item>
/// <item>AdamW bf16 state, stochastic rounding (<see cref="CompareStochasticRounding"/>): against the fp32 rule on the same
/// gradient, every stored m and v is one of the two bf16 neighbours of the fp32 value (within one ulp), the mean
/// signed error in ulps is within 5σ of 0 (σ ≤ 0.5/√n for n inexact elements), at least
/// <see cref="MinAwayFromNearest"/> of the inexact elements are rounded away from nearest (it is not round-to-nearest),
/// and the same seed and step reproduce the result bit for bit.</item>
/// </list>
/// </remarks>
public static class ForgeTensorCoreEquivalence
{
    /// <summary>A single-weight case: optimizer kind, weight dtype, rows, columns, tokens, micro-batches, clip coefficient (0 none), weight decay, steps.</summary>
    public sealed record LayerCase(string Kind, ScalarType Weight, long Rows, long Cols, long Tokens, int MicroBatches, double Clip, double WeightDecay, int Steps = 3)
    {
        public override string ToString() =>
            $"FORGE tensor-core tile = slabs, {Kind} {(Weight == ScalarType.Float32 ? "mixed (fp32 master)" : "bfloat16")} {Rows}x{Cols} weight, {Tokens} tokens, "
            + $"GA={MicroBatches}{(Clip > 0 ? $", clip x{Clip}" : "")}, wd {WeightDecay}";
    }

    /// <summary>Cases small enough for the emulated build (partial tiles, a partial 8-bit block, pending and clip, several splits).</summary>
    public static IReadOnlyList<LayerCase> LayerCases { get; } =
    [
        new("adamw", ScalarType.Float32, 136, 256, 70, 1, 0, 0.1),
        new("adamw", ScalarType.Float32, 64, 128, 100, 2, 0.37, 0),
        new("adamw", ScalarType.BFloat16, 64, 96, 40, 1, 0, 0.1),
        new("adam8bit", ScalarType.Float32, 64, 256, 48, 1, 0, 0.1),
        new("adam8bit", ScalarType.Float32, 40, 384, 64, 2, 0.37, 0),
        new("adam8bit", ScalarType.BFloat16, 48, 512, 40, 1, 0, 0),
    ];

    /// <summary>Llama-shaped cases for the GPU only (a full grid without splits, and a small weight that takes split-K).</summary>
    public static IReadOnlyList<LayerCase> LargeLayerCases { get; } =
    [
        new("adamw", ScalarType.Float32, 1024, 4096, 512, 1, 0, 0.1, 2),
        new("adamw", ScalarType.Float32, 256, 512, 512, 2, 0.37, 0, 2),
        new("adam8bit", ScalarType.Float32, 1024, 4096, 512, 1, 0, 0.1, 2),
        new("adam8bit", ScalarType.Float32, 256, 512, 512, 1, 0, 0, 2),
        new("adam8bit", ScalarType.BFloat16, 512, 2048, 256, 2, 0.37, 0.1, 2),
    ];

    /// <summary>Stochastic-rounding cases: weight dtype, rows, columns, tokens, token splits (0: chosen).</summary>
    public static IReadOnlyList<(ScalarType Weight, long Rows, long Cols, long Tokens, int Splits)> RoundingCases { get; } =
    [
        (ScalarType.Float32, 128, 256, 48, 0),
        (ScalarType.BFloat16, 64, 128, 64, 2),
    ];

    /// <summary>Stochastic-rounding cases for the GPU only.</summary>
    public static IReadOnlyList<(ScalarType Weight, long Rows, long Cols, long Tokens, int Splits)> LargeRoundingCases { get; } =
    [
        (ScalarType.Float32, 1024, 4096, 512, 0),
        (ScalarType.BFloat16, 512, 1024, 512, 0),
    ];

    /// <summary>8-bit Adam: absmax and p, max |tile − slabs| over the slabs' largest |value|.</summary>
    public const double Int8RelativeBound = 1e-6;

    /// <summary>Stochastic rounding: the least share of inexact elements stored at the neighbour farther from the fp32 value.</summary>
    public const double MinAwayFromNearest = 0.05;

    /// <summary>One line naming a rounding case.</summary>
    public static string Describe((ScalarType Weight, long Rows, long Cols, long Tokens, int Splits) c) =>
        $"FORGE tensor-core tile, AdamW bf16 state by stochastic rounding, {(c.Weight == ScalarType.Float32 ? "mixed" : "bfloat16")} {c.Rows}x{c.Cols} weight, {c.Tokens} tokens";

    /// <summary>
    /// One weight stepped <see cref="LayerCase.Steps"/> times from the same (exact-integer) inputs and output gradients by the
    /// slab path and by the tensor-core tile kernel (bf16 operands, the weight in its dtype).
    /// </summary>
    public static (bool Ok, string Detail) CompareLayer(Device device, FusedKernels kernels, LayerCase c)
    {
        if (!kernels.HasForgeTensorCore) return (false, $"{kernels.LibraryPath} has no hk_forge_tc");
        using var scope = NewDisposeScope();
        var slabs = TrainLayer(device, kernels, c, tile: false);
        var tile = TrainLayer(device, kernels, c, tile: true);
        var problem = slabs.Problem ?? tile.Problem;
        var moved = slabs.W.ne(slabs.Initial).sum().item<long>();
        bool ok;
        string measure;
        if (c.Kind == "adamw")
        {
            var differing = new[] { (tile.W, slabs.W), (tile.State[0], slabs.State[0]), (tile.State[1], slabs.State[1]) }
                .Sum(pair => pair.Item1.ne(pair.Item2).sum().item<long>());
            ok = differing == 0;
            measure = $"{differing} of {3 * c.Rows * c.Cols} elements of p, m, v differ (bound 0)";
        }
        else
        {
            var codes = new[] { 0, 1 }.Select(i => (tile.State[i].to(ScalarType.Int32) - slabs.State[i].to(ScalarType.Int32)).abs()).ToList();
            var maxCode = codes.Max(d => d.max().item<int>());
            var differingCodes = codes.Sum(d => d.ne(0).sum().item<long>());
            var absmax = Math.Max(Relative(tile.State[2], slabs.State[2]), Relative(tile.State[3], slabs.State[3]));
            var w = Relative(tile.W, slabs.W);
            ok = maxCode <= 1 && absmax <= Int8RelativeBound && w <= Int8RelativeBound;
            measure = $"codes: {differingCodes} of {2 * c.Rows * c.Cols} differ, by at most {maxCode} (bound 1); absmax {absmax:E2}, p {w:E2} (bound {Int8RelativeBound:E0})";
        }
        ok = ok && moved > 0 && problem is null;
        return (ok, $"{measure}; {moved} weights moved{(problem is null ? "" : $"; {problem}")}; {c.Steps} steps on {device}");
    }

    /// <summary>
    /// One AdamW step with FORGE's bf16 state through the tensor-core kernel against the fp32 rule on the same gradient (see
    /// the class remarks for the bounds), and a second identical run for determinism.
    /// </summary>
    public static (bool Ok, string Detail) CompareStochasticRounding(Device device, FusedKernels kernels, ScalarType weightDtype, long rows, long cols,
        long tokens, int splits)
    {
        if (!kernels.HasForgeTensorCore) return (false, $"{kernels.LibraryPath} has no hk_forge_tc");
        using var scope = NewDisposeScope();
        var gen = new Generator(23, CPU);
        var (x, dy) = Operands(gen, tokens, rows, cols);
        var initial = (randn([rows, cols], generator: gen) * 0.5).to(weightDtype);
        // A state already moving (not zero), so m and v mix an old value with the new gradient.
        var m0 = (randn([rows, cols], generator: gen) * 0.01).to(ScalarType.BFloat16);
        var v0 = (rand([rows, cols], generator: gen) * 1e-4).to(ScalarType.BFloat16);
        const float lr = 1e-2f, wd = 0.1f;
        var s = new AdamWScalars(1 - lr * wd, 0.1f, 0.999f, 0.001f, (float)(1 / Math.Sqrt(1 - 0.999)), 1e-8f, -lr / 0.1f, true);
        Tensor[] Run()
        {
            var (p, m, v) = (initial.to(device).clone(), m0.to(device).clone(), v0.to(device).clone());  // .to is a no-op on the same device
            kernels.ForgeTensorCore(ForgeTileKind.AdamWBf16Stochastic, x.to(device), dy.to(device), null, null, p, m, v, null, null, s.Pack(), null, null,
                0x1234_5678_9abc_def0ul, splits);
            return [p.cpu().to(ScalarType.Float32), m.cpu().to(ScalarType.Float32), v.cpu().to(ScalarType.Float32)];
        }
        var first = Run();
        var again = Run();
        var repeatDiffers = Enumerable.Range(0, 3).Sum(i => first[i].ne(again[i]).sum().item<long>());
        // The fp32 reference: the gradient rounded to bf16 as the kernel's GEMM output, then AdamW's ops in fp32.
        var g = dy.to(ScalarType.Float32).t().mm(x.to(ScalarType.Float32)).to(ScalarType.BFloat16).to(ScalarType.Float32);
        var m = m0.to(ScalarType.Float32).lerp(g, 0.1f);
        var v = v0.to(ScalarType.Float32).mul(0.999f).addcmul_(g, g, value: 0.001f);
        var p = initial.to(ScalarType.Float32).mul(s.Decay).addcdiv_(m, v.sqrt().mul_(s.InvBc2Sqrt).add_(s.Eps), value: s.NegStep);
        var parts = new List<(string Name, Tensor Stored, Tensor Exact)> { ("m", first[1], m), ("v", first[2], v) };
        if (weightDtype == ScalarType.BFloat16) parts.Add(("p", first[0], p));
        var details = new List<string>();
        var ok = repeatDiffers == 0;
        foreach (var (name, stored, exact) in parts)
        {
            var ulp = pow(2.0, floor(log2(exact.abs().clamp_min(1e-30))) - 7);
            var error = (stored - exact) / ulp;
            // Within one ulp: on one of the two neighbours (a 1e-3 ulp slack for the reference's own fp32 rounding).
            var outside = error.abs().gt(1.001).sum().item<long>();
            var nearest = exact.to(ScalarType.BFloat16).to(ScalarType.Float32);
            var inexact = nearest.ne(exact);
            var n = inexact.sum().item<long>();
            var mean = n == 0 ? 0 : error.masked_select(inexact).to(ScalarType.Float64).mean().item<double>();
            var sigmas = n == 0 ? 0 : Math.Abs(mean) / (0.5 / Math.Sqrt(n));
            var away = stored.ne(nearest).logical_and(inexact).sum().item<long>();
            var awayShare = n == 0 ? 0 : (double)away / n;
            ok = ok && outside == 0 && n > 0 && sigmas <= 5 && awayShare >= MinAwayFromNearest;
            details.Add($"{name}: {outside} beyond one ulp, mean error {mean:+0.0000;-0.0000} ulp over {n} inexact ({sigmas:F1} sigma, bound 5), {awayShare:P1} away from nearest");
        }
        var movedP = first[0].ne(initial.to(ScalarType.Float32)).sum().item<long>();
        ok = ok && movedP > 0;
        return (ok, $"{string.Join("; ", details)}; rerun differs in {repeatDiffers} elements; {movedP} weights moved; on {device}");
    }

    /// <summary>
    /// Times one Llama-3-8B MLP weight (14336 x 4096, fp32 master weights, 512 bf16 tokens) per tensor-core kind against
    /// the standard route (cuBLAS bf16 GEMM, the gradient cast to fp32, the fused AdamW kernel), the mean of 10 calls
    /// after one warm-up. Passes when every time is positive and the fused AdamW tile is at most 1.25x the standard
    /// route (a sanity bound; the step-level comparison is configs/gpu/forge-8b.yaml).
    /// </summary>
    public static (bool Ok, string Detail) TimeLlamaWeight(Devices.DeviceSession session, FusedKernels kernels)
    {
        if (!kernels.HasForgeTensorCore) return (false, $"{kernels.LibraryPath} has no hk_forge_tc");
        const long rows = 14336, cols = 4096, tokens = 512;
        using var scope = NewDisposeScope();
        var x = randn([tokens, cols], ScalarType.BFloat16, CUDA);
        var dy = (randn([tokens, rows], ScalarType.Float32, CUDA) * 0.01).to(ScalarType.BFloat16);
        double Time(Action step)
        {
            using var timeline = session.NewTimeline();
            step();
            var t0 = timeline.Mark();
            for (var i = 0; i < 10; i++) step();
            return timeline.Seconds(t0, timeline.Mark()) / 10;
        }
        (double Seconds, IOptimizer Optimizer) Tile(string kind, bool bf16State)
        {
            var weight = new NamedParameter("w", new TorchSharp.Modules.Parameter(randn([rows, cols], ScalarType.Float32, CUDA) * 0.02), ParamRole.Matrix);
            var optimizer = Create([weight], kernels, kind, 0.1);
            if (bf16State) ((Optimizers.AdamW.AdamW)optimizer).UseBf16StochasticState(weight);
            var tile = (ITileFusedLinearStep)optimizer;
            return (Time(() =>
            {
                if (!tile.TryStepLinear(weight, x, dy, null, null, 1e-4)) throw new InvalidOperationException($"{kind}: the tile step declined");
            }), optimizer);
        }
        var times = new List<(string Name, double Seconds)>();
        foreach (var (name, kind, bf16) in new[] { ("adamw fp32 state", "adamw", false), ("adamw bf16 state (SR)", "adamw", true), ("8-bit adam (2 GEMM passes)", "adam8bit", false) })
        {
            var (seconds, optimizer) = Tile(kind, bf16);
            optimizer.Dispose();
            times.Add((name, seconds));
        }
        var (p, m, v) = (randn([rows, cols], ScalarType.Float32, CUDA), zeros([rows, cols], ScalarType.Float32, CUDA), zeros([rows, cols], ScalarType.Float32, CUDA));
        var s = new AdamWScalars(0.99999f, 0.1f, 0.999f, 0.001f, 1.2f, 1e-8f, -1e-3f, true);
        var standard = Time(() =>
        {
            using var inner = NewDisposeScope();
            var g = dy.t().mm(x).to(ScalarType.Float32);
            kernels.AdamW([(p, g, m, v)], s);
        });
        var flops = 2.0 * rows * cols * tokens;
        var ok = times.All(t => t.Seconds > 0) && standard > 0 && times[0].Seconds <= 1.25 * standard;
        return (ok, string.Join(", ", times.Select(t => $"{t.Name} {t.Seconds * 1e3:F3} ms ({flops / t.Seconds / 1e12:F0} TFLOP/s of GEMM)"))
            + $"; standard (cuBLAS GEMM + fp32 cast + fused AdamW) {standard * 1e3:F3} ms; fp32-state tile / standard = {times[0].Seconds / standard:F2} (bound 1.25)");
    }

    // Exact-integer operands (see the class remarks), bf16.
    private static (Tensor X, Tensor Dy) Operands(Generator gen, long tokens, long rows, long cols) =>
        (randint(-1, 2, [tokens, cols], generator: gen).to(ScalarType.BFloat16),
         (randint(-1, 2, [tokens, rows], generator: gen) * 0.125).to(ScalarType.BFloat16));

    private static IOptimizer Create(IReadOnlyList<NamedParameter> ps, FusedKernels kernels, string kind, double weightDecay)
    {
        var descriptor = OptimizerCatalog.All.Single(d => d.Kind == kind);
        var options = (descriptor.Checks.Options ?? throw new InvalidOperationException($"{kind}: no check options on its catalog line"))(
            descriptor.Checks.ForgeLr, weightDecay, ImplementationChoice.CudaFused);
        var optimizer = descriptor.Create(ps, options);
        ((IFusedKernelUser)optimizer).AttachKernels(kernels, "gpu-check");
        return optimizer;
    }

    private sealed record LayerRun(Tensor Initial, Tensor W, IReadOnlyList<Tensor> State, string? Problem);

    // The weight and the state tensors after the steps (on the CPU, in the caller's dispose scope; codes as uint8).
    private static LayerRun TrainLayer(Device device, FusedKernels kernels, LayerCase c, bool tile)
    {
        var gen = new Generator(11, CPU);
        var initial = (randn([c.Rows, c.Cols], generator: gen) * 0.5).to(c.Weight);
        var weight = new NamedParameter("w", new TorchSharp.Modules.Parameter(initial.to(device).clone()), ParamRole.Matrix);
        using var optimizer = Create([weight], kernels, c.Kind, c.WeightDecay);
        // Slabs of 16 rows (the layer rounds them up to whole 8-bit blocks).
        using var layer = new ForgeLinearLayer(weight, (ISlabStep)optimizer, 16) { Tile = tile ? (ITileFusedLinearStep)optimizer : null, TileRequired = tile };
        var coefficient = c.Clip > 0 ? tensor((float)c.Clip, ScalarType.Float32, device) : null;
        for (var step = 0; step < c.Steps; step++)
        {
            for (var k = 0; k < c.MicroBatches; k++)
            {
                using var stepScope = NewDisposeScope();
                layer.LearningRate = 1e-2 * (step + 1) / c.Steps;
                layer.LastMicroBatch = k == c.MicroBatches - 1;
                layer.ClipScale = coefficient;
                var (x, dy) = Operands(gen, c.Tokens, c.Rows, c.Cols);
                // d(Σ y·dy)/dy = dy: the backward hands the layer exactly this output gradient.
                (layer.Forward(x.to(device), weight.Value) * dy.to(device)).sum().backward();
            }
        }
        string? problem = null;
        var name = tile ? "tile" : "slabs";
        if (layer.Updates != c.Steps || layer.TileUpdates != (tile ? c.Steps : 0))
            problem = $"{name}: {layer.Updates} updates, {layer.TileUpdates} by the tile kernel, in {c.Steps} steps";
        var state = optimizer.StateDict();
        var count = state["w/step"].item<long>();
        if (count != c.Steps) problem ??= $"{name}: optimizer step count {count} after {c.Steps} steps";
        using (var grad = weight.Value.grad)
            if (grad is not null) problem ??= "the weight has a .grad";
        Tensor Host(Tensor t) => t.detach().cpu().clone();
        Tensor Float(Tensor t) => Host(t).to(ScalarType.Float32);
        IReadOnlyList<Tensor> moments = c.Kind == "adamw"
            ? [Float(state["w/exp_avg"]), Float(state["w/exp_avg_sq"])]
            : [Host(state["w/state1"]), Host(state["w/state2"]), Float(state["w/absmax1"]), Float(state["w/absmax2"])];
        return new(initial.to(ScalarType.Float32), Float(weight.Value), moments, problem);
    }

    private static double Relative(Tensor a, Tensor b) => (a - b).abs().max().item<float>() / Math.Max(b.abs().max().item<float>(), 1e-30f);
}
