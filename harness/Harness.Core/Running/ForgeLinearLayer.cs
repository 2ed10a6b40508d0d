using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Core.Running;

/// <summary>
/// The FORGE side of one linear weight: turns (input, output gradient) into weight-gradient row slabs that
/// the optimizer consumes one at a time. On a micro-batch that is not the last of the step it adds the
/// gradient to an fp32 pending buffer instead (as FORGE does), and the last micro-batch steps on
/// buffer + its own gradient, which is the standard driver's accumulated <c>.grad</c>. For two-pass
/// clipping the last micro-batch either only sums the slabs' squared entries (<see cref="NormOnly"/>) or
/// scales each slab by the clip coefficient before the step (<see cref="ClipScale"/>). Both autograd routes
/// (<see cref="Route"/>: the native libtorch function or the managed TorchSharp one) end in the same
/// <see cref="ConsumeCapturingErrors"/>, so they run the same slab arithmetic. With a <see cref="Tile"/> step the
/// last micro-batch instead hands x and dY to the optimizer's tile-fused kernel, which forms the gradient tile by
/// tile and applies the same update without any slab (the measuring pass of two-pass clipping stays on slabs).
/// </summary>
public sealed class ForgeLinearLayer : IRoutedWeight
{
    private readonly ISlabStep _optimizer;
    private Tensor? _pending;
    private Tensor? _squaredNorm;

    /// <param name="weight">The fused weight ([out, in]).</param>
    /// <param name="optimizer">Its optimizer's slab step.</param>
    /// <param name="slabRows">Requested rows per slab, rounded up to the optimizer's <see cref="ISlabStep.SlabRowAlignment"/>.</param>
    public ForgeLinearLayer(NamedParameter weight, ISlabStep optimizer, long slabRows)
    {
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentOutOfRangeException.ThrowIfLessThan(slabRows, 1);
        Weight = weight;
        _optimizer = optimizer;
        var align = optimizer.SlabRowAlignment(weight);
        SlabRows = (slabRows + align - 1) / align * align;
    }

    public NamedParameter Weight { get; }

    /// <summary>This layer's position among the driver's fused layers (passed to the native function, for its messages).</summary>
    public int Index { get; init; }

    /// <summary>
    /// The native FORGE function (<see cref="NativeForge"/>) this layer's forward goes through, or null for the
    /// managed <see cref="ForgeLinearFunction"/>. Either way the backward ends in <see cref="ConsumeCapturingErrors"/>.
    /// </summary>
    public NativeForge? Native { get; init; }

    /// <summary>Which autograd function carries this layer: <see cref="NativeRoute"/> or <see cref="ManagedRoute"/>.</summary>
    public string Route => Native is null ? ManagedRoute : NativeRoute;

    /// <summary>The route of a native libtorch autograd function (<c>harness_forge.cpp</c>).</summary>
    public const string NativeRoute = "native";

    /// <summary>The route of TorchSharp's custom-function machinery (<see cref="ForgeLinearFunction"/>).</summary>
    public const string ManagedRoute = "managed";

    /// <summary><c>input·weightᵀ</c> whose backward consumes this layer's weight gradient slab by slab, on this layer's route.</summary>
    /// <remarks>A bf16 input with an fp32 weight (<c>training.dtype: mixed</c>) takes the managed function, which casts the weight; the native one multiplies one dtype.</remarks>
    public Tensor Forward(Tensor input, Tensor weight) =>
        Native is { } native && input.dtype == weight.dtype ? native.Linear(input, weight, this) : ForgeLinearFunction.apply(input, weight, this);

    private System.Runtime.InteropServices.GCHandle _self;

    /// <summary>A GC handle to this layer, the native function's <c>user</c> pointer (freed by <see cref="Dispose"/>).</summary>
    internal nint NativeUser
    {
        get
        {
            if (!_self.IsAllocated) _self = System.Runtime.InteropServices.GCHandle.Alloc(this);
            return System.Runtime.InteropServices.GCHandle.ToIntPtr(_self);
        }
    }

    /// <summary>The optimizer's tile-fused step this layer's updates go through, or null for slabs.</summary>
    public ITileFusedLinearStep? Tile { get; init; }

    /// <summary>True when a refusal of the <see cref="Tile"/> step is an error rather than a fall-back to slabs (<c>forge_kernel: tile</c>).</summary>
    public bool TileRequired { get; init; }

    /// <summary>Whether bf16 operands may take the tensor-core tile kernel (false: <c>forge_kernel: tile_fma</c>, the fp32-FMA tile only).</summary>
    public bool TensorCores { get; init; } = true;

    /// <summary>The name of the tile-fused kernel, in the run's implementation string.</summary>
    public const string TileKernel = "tile";

    /// <summary>The name of the slab-by-slab path, in the run's implementation string.</summary>
    public const string SlabsKernel = "slabs";

    /// <summary>Rows per gradient slab: the requested count rounded up to whole blocks of the optimizer's state.</summary>
    public long SlabRows { get; }

    /// <summary>Learning rate of the current step (set by the driver before the forward).</summary>
    public double LearningRate { get; set; }

    /// <summary>Whether this backward is the last micro-batch of the step (the one that updates).</summary>
    public bool LastMicroBatch { get; set; } = true;

    /// <summary>Largest weight-gradient tensor this layer allocated, in elements (slabs, or the pending buffer).</summary>
    public long LargestGradientElements { get; private set; }

    /// <summary>Optimizer updates applied (one per step, whatever the slab count).</summary>
    public int Updates { get; private set; }

    /// <summary>Those of <see cref="Updates"/> that the <see cref="Tile"/> step applied.</summary>
    public int TileUpdates { get; private set; }

    /// <summary>Two-pass clipping, first pass: the last micro-batch adds Σ G² to <see cref="SquaredNorm"/> and updates nothing.</summary>
    public bool NormOnly { get; set; }

    /// <summary>Two-pass clipping, second pass: the clip coefficient (a float32 scalar tensor) each gradient slab is multiplied by before its update; null for none.</summary>
    public Tensor? ClipScale { get; set; }

    /// <summary>Σ G² over this layer's (accumulated) weight gradient, float32, summed slab by slab since <see cref="ResetSquaredNorm"/>.</summary>
    public Tensor SquaredNorm => _squaredNorm ??= tensor(0f, ScalarType.Float32, Weight.Value.device).DetachFromDisposeScope();

    /// <summary>Sets <see cref="SquaredNorm"/> to 0 (before a first pass).</summary>
    public void ResetSquaredNorm()
    {
        using var noGrad = no_grad();
        SquaredNorm.zero_();
    }

    /// <summary>
    /// Input gradients this layer's backward returned. TorchSharp hands libtorch a copy of each and never
    /// frees its own wrapper, which on CUDA (where the backward runs on libtorch's device thread, outside any
    /// dispose scope) would keep the tensor alive until a garbage collection. They are freed at this
    /// layer's next backward or by the driver at the end of the step, once libtorch holds its copy.
    /// </summary>
    internal List<Tensor> Returned { get; } = [];

    /// <summary>Frees the wrappers kept by <see cref="Returned"/>.</summary>
    internal void ReleaseReturned()
    {
        foreach (var t in Returned) t.Dispose();
        Returned.Clear();
    }

    /// <summary>The first error raised inside a backward, for the driver to rethrow after it.</summary>
    internal System.Runtime.ExceptionServices.ExceptionDispatchInfo? Failure { get; set; }

    internal void ConsumeCapturingErrors(Tensor input, Tensor gradOutput)
    {
        if (Failure is not null) return;
        try
        {
            Consume(input, gradOutput);
        }
        catch (Exception e)
        {
            Failure = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e);
        }
    }

    private void Consume(Tensor input, Tensor gradOutput)
    {
        using var noGrad = no_grad();
        using var existing = Weight.Value.grad;
        if (existing is not null)
            throw new InvalidOperationException(
                $"fused weight '{Weight.Name}' has a materialised .grad: it has another gradient consumer (tied weights?) and cannot be fused");
        var (rows, cols) = (Weight.Value.shape[0], Weight.Value.shape[1]);
        var x = input.reshape(-1, cols);
        var dy = gradOutput.reshape(-1, rows);
        if (!LastMicroBatch)
        {
            if (_pending is null)
            {
                _pending = zeros(rows, cols, ScalarType.Float32, Weight.Value.device).DetachFromDisposeScope();
                Note(_pending.numel());
            }
            foreach (var (start, grad) in Slabs(x, dy, rows))
                using (grad) _pending.narrow(0, start, grad.shape[0]).add_(grad);
            return;
        }
        if (NormOnly)
        {
            // Each slab's squares are summed and the slab freed (with its temporaries, by the scope): the
            // norm needs no whole gradient either.
            var norm = SquaredNorm;
            using var slabs = Slabs(x, dy, rows).GetEnumerator();
            while (true)
            {
                using var scope = NewDisposeScope();
                if (!slabs.MoveNext()) break;
                norm.add_(slabs.Current.Gradient.to(ScalarType.Float32).square().sum());
            }
        }
        else if (StepTile(x, dy))
        {
            TileUpdates++;
            Updates++;
        }
        else
        {
            var slabs = Slabs(x, dy, rows);
            // In place, as clip_grad_norm_ scales .grad, so the update sees the same c·G.
            if (ClipScale is { } scale) slabs = slabs.Select(s => s with { Gradient = s.Gradient.mul_(scale) });
            _optimizer.StepSlabs(Weight, slabs, LearningRate);
            Updates++;
        }
        _pending?.Dispose();
        _pending = null;
    }

    /// <summary>The last micro-batch's update through the <see cref="Tile"/> step; false when there is none or it declined.</summary>
    private bool StepTile(Tensor x, Tensor dy)
    {
        if (Tile is null) return false;
        using var scope = NewDisposeScope();
        // The kernel reads row-major [tokens, features] operands: a strided dY (a transposed view from autograd) is
        // copied here, once, where the slab path's GEMMs read it in place.
        if (Tile.TryStepLinear(Weight, x.contiguous(), dy.contiguous(), _pending, ClipScale, LearningRate, TensorCores)) return true;
        if (TileRequired)
            throw new InvalidOperationException($"forge_kernel tile: the tile-fused step declined '{Weight.Name}' (x {x.dtype}, dY {dy.dtype}, weight "
                + $"{Weight.Value.dtype} on {Weight.Value.device}); use forge_kernel auto to fall back to slabs");
        return false;
    }

    private IEnumerable<GradientSlab> Slabs(Tensor x, Tensor dy, long rows)
    {
        for (long start = 0; start < rows; start += SlabRows)
        {
            var count = Math.Min(SlabRows, rows - start);
            var grad = dy.narrow(1, start, count).t().mm(x);
            if (grad.dtype != Weight.Value.dtype) grad = grad.to_type(Weight.Value.dtype);
            if (_pending is not null)
            {
                // The fp32 buffer plus this micro-batch, back in the weight's dtype, as the standard driver holds its
                // accumulated .grad (an fp32 slab for bf16 weights made AdamW's tensor ops fail: lerp_ takes one dtype).
                grad = _pending.narrow(0, start, count) + grad;
                if (grad.dtype != Weight.Value.dtype) grad = grad.to_type(Weight.Value.dtype);
            }
            Note(grad.numel());
            yield return new GradientSlab(start, grad);
        }
    }

    private void Note(long elements) => LargestGradientElements = Math.Max(LargestGradientElements, elements);

    public void Dispose()
    {
        if (_self.IsAllocated) _self.Free();
        ReleaseReturned();
        _pending?.Dispose();
        _pending = null;
        _squaredNorm?.Dispose();
        _squaredNorm = null;
    }

    System.Runtime.ExceptionServices.ExceptionDispatchInfo? IRoutedWeight.Failure { get => Failure; set => Failure = value; }

    void IRoutedWeight.ReleaseReturned() => ReleaseReturned();
}
