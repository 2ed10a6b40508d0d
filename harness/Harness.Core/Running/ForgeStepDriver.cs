using Harness.Core.Config;
using Harness.Experiments.Models;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Core.Running;

/// <summary>
/// FORGE (<c>step_mode: fused_backward</c>; Kukreja et al., arXiv 2606.22932, reference code dk4248/FORGE
/// <c>src/fused_grad_optimizer/autograd.py</c> @ 7cba611), the layer-wise CPU form: the workload's linear
/// layers run through <see cref="ForgeLinearFunction"/>, whose backward computes the input gradient, then
/// the weight gradient a slab of output rows at a time, each slab stepped at once by the optimizer's
/// element-wise rule (<see cref="ISlabStep"/>; slabs are rounded up to whole blocks of a blockwise state such
/// as 8-bit Adam's); no full weight gradient of a fused layer exists. Other parameters (embeddings, norms)
/// keep their <c>.grad</c> and are stepped after the backward.
/// </summary>
/// <remarks>
/// Two routes carry the fused layers (<see cref="Route"/>): on CUDA, where the session could build
/// <c>harness/native/harness_forge.cpp</c>, a native libtorch autograd function (<see cref="NativeForge"/>), which
/// keeps no per-output cache and makes no managed wrappers, so the weight gradients FORGE avoids are really not
/// held; otherwise (CPU, CI, no nvcc, <c>HARNESS_NO_NATIVE_FORGE=1</c>) TorchSharp's custom function
/// (<see cref="ForgeLinearFunction"/>), whose machinery keeps an <c>empty_like</c> output cache per call until the
/// graph is freed. Both call the same slab consumption, so they compute the same update.
/// </remarks>
/// <remarks>
/// Two kernels can carry a fused layer's update (<see cref="Kernel"/>, <c>training.forge_kernel</c>): the slabs above
/// (one GEMM and one optimizer launch per slab), or, where the optimizer has one (<see cref="ITileFusedLinearStep"/>:
/// AdamW with its CUDA kernels), FORGE's tile kernel, which forms each tile of the weight gradient in registers and
/// updates it in the same kernel: one launch per layer, no gradient slab. <c>auto</c> takes the tile kernel where it is
/// available and slabs elsewhere; <c>tile</c> refuses to run without it. <see cref="KernelUsed"/> says which ran.
/// </remarks>
/// <remarks>
/// Global-norm clipping cannot happen in one backward (the weights move before the last gradient exists), so
/// <c>grad_clip &gt; 0</c> is refused unless <see cref="FusedClipMode.TwoPass"/> is chosen (LOMO-style; not in
/// FORGE): a first forward + backward over all micro-batches in which the fused layers only sum Σ G² slab by
/// slab (no update) and the other parameters keep their gradients, the coefficient
/// <c>c = min(1, τ/(‖G‖ + 1e-6))</c> of <c>torch.nn.utils.clip_grad_norm_</c> (per-tensor norms, then the
/// norm of those), then a second forward + backward that updates with c·G in every slab and c·grad for the
/// other parameters. Cost: one more forward and backward per step; still no whole weight gradient. The
/// workloads have no dropout and both passes see the same batches, so the second pass's gradients are the
/// first's.
/// </remarks>
public sealed class ForgeStepDriver : IStepDriver, ILinearRoute, IDisposable
{
    private readonly IDeviceClock _clock;
    private readonly long _slabRows;
    private readonly double _gradClip;
    private readonly NativeForge? _native;
    private readonly RoutedWeights<ForgeLinearLayer> _layers = new();
    private Tensor? _gradNorm, _clipCoefficient;

    /// <param name="clock">Times the step of the non-fused parameters.</param>
    /// <param name="slabRows">Requested output rows per weight-gradient slab.</param>
    /// <param name="gradClip">Global-norm clip τ; 0 for none. Above 0 it needs <paramref name="clipMode"/> two-pass.</param>
    /// <param name="clipMode">How to clip (<c>training.fused_clip</c>).</param>
    /// <param name="native">The native FORGE function (<see cref="Devices.DeviceSession.Forge"/>); null for the managed route.</param>
    public ForgeStepDriver(IDeviceClock clock, long slabRows, double gradClip, FusedClipMode clipMode = FusedClipMode.None,
        NativeForge? native = null)
    {
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentOutOfRangeException.ThrowIfLessThan(slabRows, 1);
        if (!(gradClip >= 0)) throw new ArgumentOutOfRangeException(nameof(gradClip), gradClip, "must be >= 0");
        if (gradClip > 0 && clipMode != FusedClipMode.TwoPass)
            throw new NotSupportedException("fused_backward cannot clip the global gradient norm in one backward (weights are updated during it); "
                + "set training.grad_clip: 0, or training.fused_clip: two_pass for an exact clip with a second forward and backward per step");
        _clock = clock;
        _slabRows = slabRows;
        _gradClip = gradClip;
        _native = native;
    }

    /// <summary>Which autograd function carries the fused layers: <see cref="ForgeLinearLayer.NativeRoute"/> or <see cref="ForgeLinearLayer.ManagedRoute"/>.</summary>
    public string Route => _native is null ? ForgeLinearLayer.ManagedRoute : ForgeLinearLayer.NativeRoute;

    /// <summary>The other parameters' gradients after a step (<c>training.grad_buffers</c>); fused weights never have one.</summary>
    public GradBuffersMode GradBuffers { get; init; } = GradBuffersMode.Free;

    /// <summary>Which kernel updates the fused layers (<c>training.forge_kernel</c>).</summary>
    public ForgeKernelMode Kernel { get; init; } = ForgeKernelMode.Auto;

    /// <summary>
    /// FORGE's state for the fused layers (<c>forge_state</c>; null: the optimizer's own): <c>bf16</c> gives AdamW's fused
    /// weights bf16 m and v (stochastically rounded by the tensor-core kernel); <c>fp32</c> and <c>int8</c> assert the state
    /// the optimizer keeps anyway (AdamW on fp32 weights; 8-bit Adam). Checked when the optimizer is bound.
    /// </summary>
    public ForgeStateKind? State { get; init; }

    /// <summary>
    /// Which kernel carried the fused layers' updates so far: <see cref="ForgeLinearLayer.TileKernel"/>,
    /// <see cref="ForgeLinearLayer.SlabsKernel"/>, or both joined by '+' when some updates fell back to slabs.
    /// </summary>
    public string KernelUsed
    {
        get
        {
            var (tile, all) = (_layers.ByName.Values.Sum(l => l.TileUpdates), _layers.ByName.Values.Sum(l => l.Updates));
            return tile == 0 ? ForgeLinearLayer.SlabsKernel
                : tile == all ? ForgeLinearLayer.TileKernel
                : $"{ForgeLinearLayer.TileKernel}+{ForgeLinearLayer.SlabsKernel}";
        }
    }

    /// <summary>Default slab height: output rows per weight-gradient slab.</summary>
    public const long DefaultSlabRows = 64;

    /// <summary>The fused layers by weight name (for inspection: slab sizes, update counts).</summary>
    public IReadOnlyDictionary<string, ForgeLinearLayer> Layers => _layers.ByName;

    /// <summary>Two-pass clipping: the global gradient norm of the last step, as <c>clip_grad_norm_</c> returns it (null before; reading it is a host sync).</summary>
    public double? LastGradNorm => _gradNorm?.item<float>();

    /// <summary>Two-pass clipping: the coefficient min(1, τ/(‖G‖ + 1e-6)) the last step's gradients were multiplied by (null before).</summary>
    public double? LastClipCoefficient => _clipCoefficient?.item<float>();

    public Tensor TrainStep(IWorkload workload, IOptimizer optimizer, IReadOnlyList<Batch> microBatches, double learningRate, StepTimings timings)
    {
        ArgumentNullException.ThrowIfNull(workload);
        ArgumentNullException.ThrowIfNull(microBatches);
        ArgumentNullException.ThrowIfNull(timings);
        Bind(workload, optimizer);
        var routable = (IRoutableLinears)workload;
        routable.RouteLinears(this);
        Tensor total;
        try
        {
            if (_gradClip > 0)
            {
                foreach (var layer in _layers.ByName.Values)
                {
                    layer.NormOnly = true;
                    layer.ResetSquaredNorm();
                }
                _layers.Backward(workload, microBatches, learningRate).Dispose();
                MeasureAndClear(workload, optimizer);
                foreach (var layer in _layers.ByName.Values) layer.ReleaseReturned();
                CollectBackwardWrappers();
                foreach (var layer in _layers.ByName.Values)
                {
                    layer.NormOnly = false;
                    layer.ClipScale = _clipCoefficient;
                }
            }
            total = _layers.Backward(workload, microBatches, learningRate);
        }
        finally
        {
            routable.RouteLinears(null);
            foreach (var layer in _layers.ByName.Values)
            {
                layer.ReleaseReturned();
                layer.NormOnly = false;
                layer.ClipScale = null;
            }
        }
        // The fused weights were stepped inside the backward; this times only the remaining parameters.
        var start = _clock.Now();
        var perParameter = (IPerParameterStep)optimizer;
        foreach (var p in _layers.Others)
        {
            using var grad = p.Value.grad;
            if (grad is null) continue;
            if (_gradClip > 0)
                using (no_grad())
                    grad.mul_(_clipCoefficient!);
            perParameter.StepParameter(p, grad, learningRate);
        }
        timings.OptimizerSeconds = _clock.Now() - start;
        GradientBuffers.Clear(workload, optimizer, GradBuffers);
        CollectBackwardWrappers();
        return total;
    }

    /// <summary>Frees the wrappers of the managed route's backward on CUDA (<see cref="BackwardWrappers"/>); the native route makes none.</summary>
    private void CollectBackwardWrappers()
    {
        if (_native is not null) return;
        BackwardWrappers.Collect(_layers.ByName.Values.FirstOrDefault()?.Weight.Value.device_type);
    }

    /// <summary>
    /// After the first pass: the global norm from the fused layers' Σ G² and the other parameters' gradients
    /// (norm per tensor, then the norm of the norms, in parameter order, as <c>clip_grad_norm_</c>), the clip
    /// coefficient, and the other gradients dropped (the second pass recomputes them).
    /// </summary>
    private void MeasureAndClear(IWorkload workload, IOptimizer optimizer)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var norms = new List<Tensor>();
        foreach (var p in workload.Parameters)
        {
            if (_layers.ByName.TryGetValue(p.Name, out var layer))
            {
                norms.Add(layer.SquaredNorm.sqrt());
                continue;
            }
            var grad = p.Value.grad;
            if (grad is not null) norms.Add(grad.norm());
        }
        var norm = norms.Count == 1 ? norms[0] : stack(norms).norm();
        // libtorch's max_norm / (total_norm + 1e-6): the scalar filled into a tensor, then divided; clamped at 1.
        var coefficient = full_like(norm, _gradClip).div_(norm + 1e-6).clamp_max(1.0);
        _gradNorm?.Dispose();
        _clipCoefficient?.Dispose();
        _gradNorm = norm.DetachFromDisposeScope();
        _clipCoefficient = coefficient.DetachFromDisposeScope();
        GradientBuffers.Clear(workload, optimizer, GradBuffers);
    }

    public Tensor Linear(Tensor input, Tensor weight, string weightName) => _layers.Linear(input, weight, weightName);

    private void Bind(IWorkload workload, IOptimizer optimizer) =>
        _layers.Bind(workload, optimizer, "fused_backward", o =>
        {
            if (o is not ISlabStep slabs || o is not IPerParameterStep)
                throw new NotSupportedException($"{o.GetType().Name} has no element-wise slab step, which fused_backward needs");
            return (p, index) =>
            {
                ApplyState(o, p);
                return new ForgeLinearLayer(p, slabs, _slabRows)
                {
                    Index = index, Native = _native, Tile = TileStepFor(o, p),
                    TileRequired = Kernel is ForgeKernelMode.Tile or ForgeKernelMode.TileFma, TensorCores = Kernel != ForgeKernelMode.TileFma,
                };
            };
        });

    /// <summary>Gives <paramref name="weight"/> the <see cref="State"/> asked for, or throws when its optimizer keeps another.</summary>
    private void ApplyState(IOptimizer optimizer, NamedParameter weight)
    {
        switch (State)
        {
            case null:
                return;
            case ForgeStateKind.Bf16 when optimizer is Optimizers.AdamW.AdamW adamw:
                adamw.UseBf16StochasticState(weight);
                return;
            case ForgeStateKind.Fp32 when optimizer is Optimizers.AdamW.AdamW && weight.Value.dtype == ScalarType.Float32:
            case ForgeStateKind.Int8 when optimizer is Optimizers.Adam8bit.Adam8bit:
                return;
            default:
                throw new NotSupportedException($"forge_state {State.ToString()!.ToLowerInvariant()}: '{weight.Name}' ({weight.Value.dtype}) under "
                    + $"{optimizer.GetType().Name} cannot keep that state (fp32: adamw on float32 weights; bf16: adamw; int8: adam8bit)");
        }
    }

    /// <summary>The optimizer's tile step for <paramref name="weight"/> as <see cref="Kernel"/> asks, or null for slabs; throws for <c>tile</c> when there is none.</summary>
    private ITileFusedLinearStep? TileStepFor(IOptimizer optimizer, NamedParameter weight)
    {
        if (Kernel == ForgeKernelMode.Slabs) return null;
        var tile = optimizer as ITileFusedLinearStep;
        var why = tile is null ? $"{optimizer.GetType().Name} has no tile-fused kernel" : tile.TileUnavailableReason(weight);
        if (why is null) return tile;
        if (Kernel is ForgeKernelMode.Tile or ForgeKernelMode.TileFma)
            throw new NotSupportedException($"forge_kernel {(Kernel == ForgeKernelMode.Tile ? "tile" : "tile_fma")}: '{weight.Name}' cannot take the tile-fused kernel: {why}; use forge_kernel auto (falls back to slabs) or slabs");
        return null;
    }

    public void Dispose()
    {
        _layers.Dispose();
        _gradNorm?.Dispose();
        _clipCoefficient?.Dispose();
        _gradNorm = _clipCoefficient = null;
    }
}
