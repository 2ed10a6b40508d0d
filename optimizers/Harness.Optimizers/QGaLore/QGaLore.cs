using Harness.Optimizers.Kernels;
using Harness.Optimizers.LowRank;
using Harness.Optimizers.Quantization;
using static TorchSharp.torch;

namespace Harness.Optimizers.QGaLore;

/// <summary>
/// Q-GaLore: GaLore with an INT4 projection, layer-adaptive subspace refreshes and INT8 weights with
/// stochastic rounding. Zhang et al., "Q-GaLore: Quantized GaLore with INT4 Projection and
/// Layer-Adaptive Low-Rank Gradients", arXiv 2407.08296. Reference code: VITA-Group/Q-GaLore @5bd2f1c,
/// <c>q_galore_torch/q_galore_adamw8bit.py</c> and <c>_simulate.py</c> (step, weight re-quantization),
/// <c>q_galore_torch/utils/quantization.py</c> (INT8 storage) and
/// <c>q_galore_torch/q_galore_projector_simulate.py</c> (projector; the golden <c>qgalore_projector</c> trace).
/// </summary>
/// <remarks>
/// For a Matrix-role W (m×n), gradient G, 0-based step k = t − 1, r' = min(r, m, n), c2 = √(1−β2^t):
/// <code>
/// if no basis or k % T_layer == 0: basis ← top-r' singular vectors of G (right if m ≥ n, else left),
///     stored as group codes (proj_bits, proj_group_size); T_layer doubles per AdaptiveUpdateGap
/// R = project(G) with the dequantized basis
/// M ← β1·M + (1−β1)·R;  V ← β2·V + (1−β2)·R²
/// D = −lr·(c2/(1−β1^t))·M / (√V + ε·c2)                           (= bnb Adam: m̂/(√v̂ + ε))
/// W' = W + α·project_back(D);  W' ← W' − lr·wd·W'
/// W ← dequant(quant_SR(W'))  per weight_group_size group, weight_bits   (if weight_quant and W' ≠ W)
/// </code>
/// Other parameters: the same Adam without projection or weight quantization (under int8 moments the decay is
/// bnb's in-kernel W·(1 − lr·wd), applied after the update).
/// Moments (<c>moments</c>): <c>int8</c> (default, the reference's bnb 0.43.1 AdamW8bit) keeps M, V of each
/// moment tensor with ≥ <c>min_8bit_size</c> elements as uint8 dynamic-map codes + an fp32 absmax per
/// <c>block_size</c> block and runs <see cref="Adam8bitMoments.Step"/> (the exact <c>Adam8bit</c> update, float32
/// scalars; D is that step's increment on the reference's zero placeholder, non-finite R entries give D = 0);
/// smaller ones keep fp32 moments on the kernel's 32-bit path. <c>fp32</c> keeps plain moments (dtype of W) and the
/// transformers-style step (ε·c2 inside, step size in double).
/// INT8 weights (<c>weight_storage: int8</c>, the reference's <c>QGaLoreLinear</c> path): a parameter whose model stores
/// it quantized (<see cref="NamedParameter.Quantized"/>, converted by the runner before this optimizer is built) holds
/// uint8 codes, an fp32 scale and a uint8 zero point per group; W above is their dequantization, the update is written
/// back by re-quantizing W' into them (scales and zero points recomputed from W', as the reference does), and the
/// gradient arrives dense on the parameter's carrier. A Matrix parameter without storage (a model that keeps it dense,
/// or <c>weight_storage: simulated</c>, the reference's <c>--simulation</c> path) stays an fp32 Parameter that after
/// every update holds exactly the values its codes would decode to (no memory saved). Both paths give the same values
/// bit for bit from the same starting grid. A step whose update is exactly zero leaves W (or its codes) as it is (the
/// reference re-quantizes anyway, which only matters for a weight not yet on its grid; the stored path starts on it,
/// rounded to nearest, as the reference's <c>QGaLoreLinear</c> does). The rounding draws are float32 uniforms (the
/// reference draws in the weight dtype) from a generator seeded per (seed, parameter name, step): counter-based, so a
/// checkpoint needs no RNG state. The stored weights are model bytes, not optimizer state.
/// Implementations (<see cref="QGaLoreOptions.Implementation"/>): <c>tensor-ops</c> is the path above, one matrix at a time
/// (CPU generator draws, whole-matrix re-quantization); <c>batched</c> projects the Matrix parameters of one (shape, dtype,
/// step) together, one bmm against their stacked dequantized bases per chunk of ≤ 64 MiB of gradients (each member keeps
/// its own adaptive refresh schedule; the members due at one step share a batched SVD), keeps the moments per tensor (the
/// reference's block layout), maps back per matrix, draws from <see cref="CounterUniform"/> on the weight's device (same
/// key) and re-quantizes tile by tile (<see cref="TiledRequantizer"/>): equal to tensor-ops within the rounding by which a
/// bmm may differ from mm (bit for bit with round-to-nearest on the CPU with one torch thread; with several, a left-side
/// bmm can split its sums otherwise, ~1e-7 relative); <c>auto</c>/<c>cuda-fused</c>
/// add the fused 8-bit Adam kernel, one launch for all moments per (dtype, step, projected), and the fused write-back
/// (<see cref="FusedKernels.QGaLoreRequantize"/>, one launch per matrix, the tiled tensor ops' values bit for bit).
/// Host reads in a step: none, except <see cref="AdaptiveUpdateGap"/>'s cosine at a basis refresh (the reference's
/// <c>.item()</c>, every T steps).
/// State bytes per Matrix parameter, s = min(m,n), L = max(m,n), b = element size, G = ⌈s·r'/proj_group_size⌉:
/// mom(r'·L) (moments) + s·r' (codes) + 5·G (fp32 scales, uint8 zeros) + 4·s (top vector) + 24 + 8·queue_size;
/// without proj_quant 4·s·r' replaces s·r' + 5·G. Other parameters: mom(numel). Moments of k elements:
/// int8 and k ≥ min_8bit_size: mom(k) = 2·k + 8·⌈k/block_size⌉; int8 below: 8·k; fp32: 2·k·b.
/// </remarks>
public sealed class QGaLore(IReadOnlyList<NamedParameter> parameters, QGaLoreOptions options)
    : PerParameterOptimizer<QGaLoreOptions, LowRankMomentsState>(parameters, options), IFusedKernelUser
{
    // The code books live where the parameters do; only int8 moments use them.
    private readonly Adam8bitCodebooks? _maps = options.Moments == QGaLoreMoments.Int8
        ? new Adam8bitCodebooks(parameters.Count > 0 ? parameters[0].Value.device : CPU) : null;

    private FusedKernels? _kernels;
    private Adam8bitKernelTables? _tables;

    private bool Reference => Options.Implementation == StepImplementation.TensorOps;

    public override string Implementation =>
        (Reference ? "tensor-ops" : _kernels is null ? "batched" : $"batched; {ImplementationChoice.NameOf(_kernels)}")
        + (Options.Moments == QGaLoreMoments.Int8 ? " (8-bit moments" : " (fp32 moments")
        + (_kernels is { HasQGaLoreRequantize: true } && Options.WeightQuant ? ", fused write-back)" : ")");

    /// <summary>Only <c>auto</c> and <c>cuda-fused</c> take the kernels (the 8-bit moments of every parameter and the weight write-back).</summary>
    public void AttachKernels(FusedKernels? kernels, string status)
    {
        _kernels = _maps is null ? null : StepImplementation.ResolveKernels(Options.Implementation, kernels, status, Parameters, "qgalore");
        if (_kernels is not null) _tables ??= new Adam8bitKernelTables(_maps!);
    }

    protected override bool FusedEnabled => _kernels is not null;

    // The kernel steps the reference's zero placeholder (projected) or the parameter itself, of the parameter's dtype.
    protected override bool CanFuse(NamedParameter p, Tensor grad, LowRankMomentsState s) =>
        _kernels is { } k && k.Accepts(grad, p.Value.dtype) && (s.Projector is not null || k.Accepts(p.Value))
        && (s.IsQuantized
            ? k.Accepts(s.First, ScalarType.Byte) && k.Accepts(s.Second, ScalarType.Byte)
              && k.Accepts(s.Absmax1!, ScalarType.Float32) && k.Accepts(s.Absmax2!, ScalarType.Float32)
            : k.Accepts(s.First, ScalarType.Float32) && k.Accepts(s.Second, ScalarType.Float32));

    /// <summary>
    /// <c>tensor-ops</c>: one parameter at a time (<see cref="Update"/>). Otherwise the projected matrices go by shape
    /// (<see cref="ShapeChunks"/>): each chunk's due refreshes and its projection in one stacked call
    /// (<see cref="QuantizedSvdProjector.ProjectStack"/>), then per matrix the moments (per tensor, the reference's block
    /// layout), the map back and the write-back; with the kernels, every fusable parameter's moments in one launch per
    /// (dtype, step, projected) (<see cref="StepFused"/>). Unprojected parameters the kernels do not take step one by one.
    /// </summary>
    public override void Step(double learningRate)
    {
        if (Reference)
        {
            base.Step(learningRate);
            return;
        }
        ThrowIfDisposed();
        using var noGrad = no_grad();
        var grads = new List<Tensor>(Parameters.Count);
        try
        {
            var fused = new List<(NamedParameter, Tensor, LowRankMomentsState)>(Parameters.Count);
            var projected = new List<(NamedParameter P, Tensor G, LowRankMomentsState S)>(Parameters.Count);
            foreach (var p in Parameters)
            {
                var grad = p.Value.grad;
                if (grad is null) continue;
                grads.Add(grad);
                var s = StateFor(p);
                if (FusedEnabled && CanFuse(p, grad, s)) fused.Add((p, grad, s));
                else if (s.Projector is not null) projected.Add((p, grad, s));
                else StepParameter(p, grad, learningRate);
            }
            if (fused.Count > 0)
            {
                foreach (var (_, _, s) in fused) s.Step++;
                StepFused(fused, learningRate);
            }
            foreach (var (_, _, s) in projected) s.Step++;
            foreach (var chunk in ShapeChunks(projected))
            {
                using var scope = NewDisposeScope();
                var low = ProjectChunk(chunk);
                for (var i = 0; i < chunk.Count; i++)
                {
                    using var inner = NewDisposeScope();
                    StepProjected(chunk[i].P, low[i], chunk[i].S, learningRate);
                }
            }
        }
        finally
        {
            foreach (var g in grads) g.Dispose();
        }
    }

    /// <summary>Stacked gradients per projection call at most (a chunk takes at least one matrix).</summary>
    public const long ProjectionChunkBytes = 64L << 20;

    /// <summary>
    /// Projected items grouped by (shape, gradient dtype, step) and cut into chunks whose stacked gradients stay within
    /// <see cref="ProjectionChunkBytes"/>.
    /// </summary>
    private static IEnumerable<List<(NamedParameter P, Tensor G, LowRankMomentsState S)>> ShapeChunks(
        IReadOnlyList<(NamedParameter P, Tensor G, LowRankMomentsState S)> items)
    {
        foreach (var group in items.GroupBy(x => (x.G.shape[0], x.G.shape[1], x.G.dtype, x.S.Step)))
        {
            var perChunk = (int)Math.Clamp(ProjectionChunkBytes / (4 * group.Key.Item1 * group.Key.Item2), 1, int.MaxValue);
            foreach (var chunk in group.Chunk(perChunk)) yield return [.. chunk];
        }
    }

    // The projected gradients of one chunk (B×…, in the gradients' dtype): a lone matrix through its own projector.
    private static Tensor ProjectChunk(IReadOnlyList<(NamedParameter P, Tensor G, LowRankMomentsState S)> chunk)
    {
        var step = chunk[0].S.Step - 1;
        if (chunk.Count == 1) return chunk[0].S.Projector!.Project(chunk[0].G, step).unsqueeze(0);
        var projectors = chunk.Select(x => (QuantizedSvdProjector)x.S.Projector!).ToList();
        using var scope = NewDisposeScope();
        return QuantizedSvdProjector.ProjectStack(projectors, stack(chunk.Select(x => x.G)), step).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Every fusable parameter at once: the projected ones by shape chunk (refreshing due bases, one stacked projection),
    /// one kernel launch per (dtype, step, projected) for all moments, then per projected matrix the write-back. Projected
    /// items step a zero placeholder without decay (D = its new value, as the reference), the others step the parameter
    /// with the kernel's decay.
    /// </summary>
    protected override void StepFused(IReadOnlyList<(NamedParameter Parameter, Tensor Grad, LowRankMomentsState State)> items, double lr)
    {
        using var scope = NewDisposeScope();
        var (beta1, beta2, eps, wd) = ((float)Options.Betas[0], (float)Options.Betas[1], (float)Options.Eps, (float)Options.WeightDecay);
        var launches = new List<(NamedParameter P, LowRankMomentsState S, Tensor Target, Tensor G)>(items.Count);
        foreach (var (p, grad, s) in items.Where(x => x.State.Projector is null)) launches.Add((p, s, p.Value, grad));
        foreach (var chunk in ShapeChunks(items.Where(x => x.State.Projector is not null).ToList()))
        {
            var low = ProjectChunk(chunk);
            for (var i = 0; i < chunk.Count; i++)
            {
                var (p, _, s) = chunk[i];
                launches.Add((p, s, zeros(low[i].shape, p.Value.dtype, low.device), low[i].to(p.Value.dtype)));
            }
        }
        foreach (var group in launches.GroupBy(x => (x.Target.dtype, x.S.Step, Projected: x.S.Projector is not null)))
        {
            var scalars = _tables!.Scalars(beta1, beta2, eps, (float)lr, wd, group.Key.Step, Options.BlockSize, !group.Key.Projected && wd > 0);
            _tables.Launch(_kernels!, group.Select(x => (x.Target, x.G, x.S.First, x.S.Second, x.S.Absmax1, x.S.Absmax2)).ToList(), scalars);
        }
        foreach (var (p, s, d, _) in launches.Where(x => x.S.Projector is not null))
        {
            using var inner = NewDisposeScope();
            WriteBack(p, s, s.Projector!.ProjectBack(d), -1.0, lr);
        }
    }

    public override string StateDtype => Options.Moments == QGaLoreMoments.Int8
        ? "uint8+float32 moments (float32 below min_8bit_size), uint8 basis codes" : "float32 moments, uint8 basis codes";

    /// <summary>The closed-form state size (the catalog's formula).</summary>
    public static long ExpectedStateBytes(IReadOnlyList<NamedParameter> parameters, QGaLoreOptions o) =>
        parameters.Sum(p =>
        {
            if (!IsProjected(p)) return MomentBytes(p.Value.numel(), p.Value.element_size(), o);
            var (m, n) = (p.Value.shape[0], p.Value.shape[1]);
            var r = Math.Min(o.Rank, Math.Min(m, n));
            return MomentBytes(r * Math.Max(m, n), p.Value.element_size(), o) + QuantizedSvdProjector.StateBytes(m, n, o.ProjectorSettings());
        });

    private static long MomentBytes(long numel, long elementSize, QGaLoreOptions o) => o.Moments == QGaLoreMoments.Int8
        ? Adam8bitMoments.StateBytes(numel, o.Quantizes(numel), o.BlockSize)
        : 2 * numel * elementSize;

    private static bool IsProjected(NamedParameter p) => p.Role == ParamRole.Matrix && p.Value.dim() == 2;

    protected override LowRankMomentsState CreateState(NamedParameter p) =>
        new(IsProjected(p) ? new QuantizedSvdProjector(p.Value.shape[0], p.Value.shape[1], Options.ProjectorSettings(), p.Value.device) : null,
            p.Value, _maps is not null, Options.Min8BitSize, Options.BlockSize);

    protected override void Update(NamedParameter p, Tensor grad, LowRankMomentsState s, double lr)
    {
        if (s.Projector is { } projector)
        {
            StepProjected(p, projector.Project(grad, s.Step - 1), s, lr);
            return;
        }
        if (_maps is not null)
        {
            // Plain bnb step: p ← p + D where finite, then the kernel's p·(1 − lr·wd).
            var (d, finite) = EightBitDelta(grad, s, p.Value.dtype, lr);
            var plain = p.Value.add(d);
            if (Options.WeightDecay > 0) plain.mul_(1f - (float)lr * (float)Options.WeightDecay);
            p.Value.copy_(finite is null ? plain : plain.where(finite.reshape(grad.shape), p.Value));
            return;
        }
        var (beta1, beta2) = (Options.Betas[0], Options.Betas[1]);
        var n = LowRankAdam.Direction(s.First, s.Second, grad, beta1, beta2, Options.Eps * Math.Sqrt(1 - Math.Pow(beta2, s.Step)));
        LowRankAdam.Apply(p.Value, n, LowRankAdam.StepSize(lr, s.Step, beta1, beta2), lr, Options.WeightDecay);
    }

    // A projected matrix's step from its projected gradient R: the moments, the direction mapped back, the write-back.
    private void StepProjected(NamedParameter p, Tensor g, LowRankMomentsState s, double lr)
    {
        if (_maps is not null)
        {
            // bnb's kernel on the reference's zero placeholder: D = T(0 + increment), 0 where R is not finite.
            var (d, _) = EightBitDelta(g, s, p.Value.dtype, lr);
            WriteBack(p, s, s.Projector!.ProjectBack(d), -1.0, lr);
            return;
        }
        var (beta1, beta2) = (Options.Betas[0], Options.Betas[1]);
        // ε·c2 inside the shared transformers-style step gives bnb's m̂/(√v̂ + ε) exactly.
        var n = LowRankAdam.Direction(s.First, s.Second, g, beta1, beta2, Options.Eps * Math.Sqrt(1 - Math.Pow(beta2, s.Step)));
        WriteBack(p, s, s.Projector!.ProjectBack(n), LowRankAdam.StepSize(lr, s.Step, beta1, beta2), lr);
    }

    // The 8-bit moment update on g: the kernel's increment D (of g's shape, in dtype, 0 where g is not finite) and the finite mask.
    private (Tensor Delta, Tensor? Finite) EightBitDelta(Tensor g, LowRankMomentsState s, ScalarType dtype, double lr)
    {
        var (delta, finite) = Adam8bitMoments.Step(s.First, s.Second, s.Absmax1, s.Absmax2, g, _maps!, Options.BlockSize,
            (float)Options.Betas[0], (float)Options.Betas[1], (float)Options.Eps, (float)lr, s.Step);
        if (finite is not null) delta = delta.where(finite, 0f);
        return (delta.reshape(g.shape).to(dtype), finite);
    }

    // W' = W − stepSize·update, decayed; then onto the INT8 grid (stored codes or simulated grid values) when weight_quant.
    private void WriteBack(NamedParameter p, LowRankMomentsState s, Tensor update, double stepSize, double lr)
    {
        var param = p.Value;
        if (!Options.WeightQuant)
        {
            LowRankAdam.Apply(param, update, stepSize, lr, Options.WeightDecay);
            return;
        }
        if (!Reference)
        {
            var format = new QuantizedWeightFormat(Options.WeightGroupSize, Options.WeightBits);
            ulong? key = Options.StochasticRound ? DrawSeed(p.Name, s.Step) : null;
            if (FusedWriteBack(param, p.Quantized, update) is { } kernels)
                kernels.QGaLoreRequantize(param, p.Quantized, update.contiguous(), (float)-stepSize,
                    Options.WeightDecay > 0 ? (float)(-lr * Options.WeightDecay) : 0f, format, key);
            else
                TiledRequantizer.Update(param, p.Quantized, update, (w, u) => LowRankAdam.Apply(w, u, stepSize, lr, Options.WeightDecay), format, key);
            return;
        }

        // INT8 storage holds the weight's values (Value is only its gradient carrier); the simulated path keeps them in Value.
        var weight = p.Quantized?.Dequantize(param.dtype) ?? param.detach();
        var updated = weight.clone();
        LowRankAdam.Apply(updated, update, stepSize, lr, Options.WeightDecay);
        var changed = updated.ne(weight).any();
        using var generator = Options.StochasticRound ? new Generator(DrawSeed(p.Name, s.Step), CPU) : null;
        if (p.Quantized is { } stored)
        {
            // The same codes, scales and zero points the simulated path's grid values decode from; kept where nothing changed.
            var (codes, scales, zeros) = (stored.Codes.clone(), stored.Scales.clone(), stored.Zeros.clone());
            stored.Store(updated, generator);
            stored.Codes.copy_(where(changed, stored.Codes, codes));
            stored.Scales.copy_(where(changed, stored.Scales, scales));
            stored.Zeros.copy_(where(changed, stored.Zeros, zeros));
            return;
        }
        var onGrid = GroupQuantizer.FakeQuantize(updated, Options.WeightGroupSize, Options.WeightBits, generator);
        param.copy_(where(changed, onGrid, param));
    }

    // The kernels, when their fused write-back (hk_qgalore_requant) can take this weight: every tensor on their device, the
    // update of the weight's dtype, groups of at most 4096 elements. Otherwise the tiled tensor ops do it.
    private FusedKernels? FusedWriteBack(Tensor param, QuantizedWeight? stored, Tensor update) =>
        _kernels is { HasQGaLoreRequantize: true } k && Options.WeightGroupSize <= 4096 && FusedKernels.DTypeCode(param.dtype) >= 0
        && k.OnItsDevice(param) && k.OnItsDevice(update) && update.dtype == param.dtype
        && (stored is null ? param.is_contiguous() : k.Accepts(stored.Codes, ScalarType.Byte) && k.Accepts(stored.Scales, ScalarType.Float32) && k.Accepts(stored.Zeros, ScalarType.Byte))
            ? k : null;

    /// <summary>The stochastic-rounding seed of one parameter at one step (SplitMix64 over seed, name, step).</summary>
    public ulong DrawSeed(string parameterName, long step)
    {
        var h = 14695981039346656037UL; // FNV-1a of the name: stable across processes, unlike string.GetHashCode
        foreach (var ch in parameterName) h = (h ^ ch) * 1099511628211UL;
        return Mix(Mix(Mix((ulong)Options.Seed) ^ h) ^ (ulong)step);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _maps?.Dispose();
            _tables?.Dispose();
        }
        base.Dispose(disposing);
    }

    private static ulong Mix(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}
