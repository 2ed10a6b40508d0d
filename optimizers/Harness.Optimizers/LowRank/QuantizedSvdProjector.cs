using Harness.Optimizers.Quantization;
using static TorchSharp.torch;

namespace Harness.Optimizers.LowRank;

/// <summary>
/// Q-GaLore's projector for one m×n weight (VITA-Group/Q-GaLore @5bd2f1c,
/// <c>q_galore_torch/q_galore_projector_simulate.py</c>, <c>proj_type='std'</c>, the only one it supports):
/// a GaLore SVD basis of the current gradient, stored group-quantized (INT4 by default) and refreshed on
/// the layer-adaptive schedule of <see cref="AdaptiveUpdateGap"/>.
/// </summary>
/// <remarks>
/// With s = min(m, n) and r' = min(r, s): if m ≥ n the basis is the right one, B = Vh[:r'] (r'×n),
/// <c>project(G) = G·B̂ᵀ</c> (m×r') and <c>project_back(N) = α·N·B̂</c>; otherwise the left one,
/// A = U[:, :r'] (m×r'), <c>project(G) = Âᵀ·G</c> (r'×n) and <c>project_back(N) = α·Â·N</c>, where B̂, Â
/// are the dequantized codes. The SVD is float32 and reduced (<c>full_matrices=False</c>). The top singular
/// vector used for the cosine queue is taken from the float basis before quantization, as the reference does.
/// State bytes: codes s·r' (uint8, one per byte) + groups·(4 + 1) (float32 scale, uint8 zero) + 4·s (top
/// vector) + 24 + 8·queue_size (schedule); unquantized: 4·s·r' + 4·s + 24 + 8·queue_size.
/// </remarks>
public sealed class QuantizedSvdProjector : IProjector, IDisposable
{
    private readonly QuantizedProjectorSettings _settings;
    private readonly long[] _basisShape;

    public QuantizedSvdProjector(long rows, long cols, QuantizedProjectorSettings settings, Device device)
    {
        if (rows <= 0 || cols <= 0) throw new ArgumentOutOfRangeException(nameof(rows), "the weight must be a non-empty matrix");
        if (settings.Rank <= 0) throw new ArgumentOutOfRangeException(nameof(settings), settings.Rank, "rank must be > 0");
        if (settings.Quantize && (settings.GroupSize <= 0 || !GroupQuantizer.IsSupported(settings.Bits)))
            throw new ArgumentOutOfRangeException(nameof(settings), "unsupported group size or bit width");
        _settings = settings;
        Rows = rows;
        Cols = cols;
        Right = rows >= cols;
        var small = Math.Min(rows, cols);
        EffectiveRank = Math.Min(settings.Rank, small);
        _basisShape = Right ? [EffectiveRank, cols] : [rows, EffectiveRank];
        var numel = small * EffectiveRank;
        if (settings.Quantize)
        {
            var groups = GroupQuantizer.GroupCount(numel, settings.GroupSize);
            Codes = zeros(numel, dtype: ScalarType.Byte, device: device);
            Scales = zeros(groups, dtype: ScalarType.Float32, device: device);
            Zeros = zeros(groups, dtype: ScalarType.Byte, device: device);
        }
        else
        {
            Codes = zeros(_basisShape, dtype: ScalarType.Float32, device: device);
        }
        TopVector = zeros(small, dtype: ScalarType.Float32, device: device);
        Gap = new AdaptiveUpdateGap(settings.UpdateProjGap, settings.QueueSize, settings.CosThreshold, settings.GammaProj);
    }

    public long Rows { get; }
    public long Cols { get; }

    /// <summary>True for the right basis (m ≥ n), false for the left one.</summary>
    public bool Right { get; }

    /// <summary>r' = min(rank, min(m, n)).</summary>
    public long EffectiveRank { get; }

    /// <summary>The shape of a projected gradient: (m, r') or (r', n).</summary>
    public long[] ProjectedShape => Right ? [Rows, EffectiveRank] : [EffectiveRank, Cols];

    /// <summary>Basis codes (uint8, flattened) or, unquantized, the float32 basis itself.</summary>
    public Tensor Codes { get; }
    public Tensor? Scales { get; }
    public Tensor? Zeros { get; }

    /// <summary>The float top singular vector of the last refresh (before quantization).</summary>
    public Tensor TopVector { get; }

    public AdaptiveUpdateGap Gap { get; }

    /// <summary>Every persistent tensor, by a stable name.</summary>
    public IEnumerable<(string Name, Tensor Tensor)> Tensors
    {
        get
        {
            yield return ("basis_codes", Codes);
            if (Scales is not null) yield return ("basis_scales", Scales);
            if (Zeros is not null) yield return ("basis_zeros", Zeros);
            yield return ("top_vector", TopVector);
            yield return ("gap_counters", Gap.Counters);
            yield return ("cos_queue", Gap.Queue);
        }
    }

    /// <summary>The closed-form bytes of the state of one m×n projector.</summary>
    public static long StateBytes(long rows, long cols, QuantizedProjectorSettings s)
    {
        var small = Math.Min(rows, cols);
        var numel = small * Math.Min(s.Rank, small);
        var basis = s.Quantize ? numel + 5 * GroupQuantizer.GroupCount(numel, s.GroupSize) : 4 * numel;
        return basis + 4 * small + 24 + 8L * s.QueueSize;
    }

    /// <summary>
    /// Projects <paramref name="grad"/> (m×n) at 0-based step <paramref name="step"/>, refreshing the basis
    /// from this gradient first when the schedule says so. Returns a new tensor in the caller's scope.
    /// </summary>
    public Tensor Project(Tensor grad, long step)
    {
        if (Gap.IsDue(step)) Refresh(grad);
        using var basis = Basis();
        var g = grad.to(ScalarType.Float32);
        var low = Right ? g.matmul(basis.t()) : basis.t().matmul(g);
        return low.to(grad.dtype);
    }

    /// <summary>α · (N·B̂ or Â·N): a low-rank tensor back to m×n.</summary>
    public Tensor ProjectBack(Tensor low)
    {
        using var basis = Basis();
        var l = low.to(ScalarType.Float32);
        var full = Right ? l.matmul(basis) : basis.matmul(l);
        return full.mul_(_settings.Scale).to(low.dtype);
    }

    /// <summary>The basis as used: dequantized codes (float32), (r'×n) or (m×r').</summary>
    public Tensor Basis() =>
        Scales is null || Zeros is null
            ? Codes.clone()
            : GroupQuantizer.Dequantize(Codes, Scales, Zeros, _settings.GroupSize, _basisShape);

    /// <summary>
    /// <see cref="Project"/> for a stack of same-shaped gradients (B×m×n) of projectors of that shape and settings: the
    /// members due at <paramref name="step"/> refresh first (<see cref="RefreshStackIfDue"/>), then one bmm of the float32
    /// gradients against the stacked dequantized bases. Returns B×(m×r' or r'×n) in the gradients' dtype, in the caller's scope.
    /// </summary>
    public static Tensor ProjectStack(IReadOnlyList<QuantizedSvdProjector> projectors, Tensor grads, long step)
    {
        ArgumentNullException.ThrowIfNull(projectors);
        ArgumentNullException.ThrowIfNull(grads);
        CheckStack(projectors, grads);
        RefreshStackIfDue(projectors, grads, step);
        using var scope = NewDisposeScope();
        var basis = StackedBasis(projectors);
        var g = grads.to(ScalarType.Float32);
        var low = projectors[0].Right ? g.bmm(basis.transpose(1, 2)) : basis.transpose(1, 2).bmm(g);
        return low.to(grads.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The refreshes due at 0-based <paramref name="step"/> in a stack of same-shaped gradients (B×m×n): each member keeps
    /// its own layer-adaptive schedule; the members due together take one batched float32 SVD (at most
    /// <paramref name="svdChunkBytes"/> of U and Vᴴ per call), each then recording its cosine and storing its codes as
    /// <see cref="Project"/>'s refresh does. On the CPU torch runs the same LAPACK routine per matrix, so the bases equal the
    /// per-matrix ones; on CUDA a batched call may pick other signs of singular vector pairs (an equally exact SVD).
    /// </summary>
    public static void RefreshStackIfDue(IReadOnlyList<QuantizedSvdProjector> projectors, Tensor grads, long step, long svdChunkBytes = 64L << 20)
    {
        ArgumentNullException.ThrowIfNull(projectors);
        ArgumentNullException.ThrowIfNull(grads);
        CheckStack(projectors, grads);
        var due = Enumerable.Range(0, projectors.Count).Where(i => projectors[i].Gap.IsDue(step)).ToArray();
        if (due.Length == 1) projectors[due[0]].Refresh(grads[due[0]]);
        if (due.Length <= 1) return;
        var (m, n) = (projectors[0].Rows, projectors[0].Cols);
        var chunk = (int)Math.Clamp(svdChunkBytes / (sizeof(float) * Math.Min(m, n) * (m + n)), 1, due.Length);
        for (var start = 0; start < due.Length; start += chunk)
        {
            using var scope = NewDisposeScope();
            var members = due[start..Math.Min(due.Length, start + chunk)];
            // Stacked on the device (an index tensor would be a host-to-device copy, which syncs a CUDA stream).
            var picked = (members.Length == grads.shape[0] ? grads : stack(members.Select(i => grads[i]))).to(ScalarType.Float32);
            var (u, _, vh) = linalg.svd(picked, fullMatrices: false);
            for (var j = 0; j < members.Length; j++) projectors[members[j]].SetFromSvd(u[j], vh[j]);
        }
    }

    // The members' bases as used (B×r'×n or B×m×r'). Codes that fill whole groups are one run of groups across members, so
    // the stack dequantizes in one call (the same per-element arithmetic as each Basis(), a few launches instead of B·5).
    private static Tensor StackedBasis(IReadOnlyList<QuantizedSvdProjector> projectors)
    {
        var first = projectors[0];
        if (first.Scales is null || first.Zeros is null) return stack(projectors.Select(p => p.Codes));
        if (first.Codes.numel() % first._settings.GroupSize != 0) return stack(projectors.Select(p => p.Basis()));
        return GroupQuantizer.Dequantize(stack(projectors.Select(p => p.Codes)), cat(projectors.Select(p => p.Scales!).ToList()),
            cat(projectors.Select(p => p.Zeros!).ToList()), first._settings.GroupSize, [projectors.Count, .. first._basisShape]);
    }

    private static void CheckStack(IReadOnlyList<QuantizedSvdProjector> projectors, Tensor grads)
    {
        if (projectors.Count == 0 || grads.dim() != 3 || grads.shape[0] != projectors.Count
            || projectors.Any(p => p.Rows != grads.shape[1] || p.Cols != grads.shape[2] || p._settings != projectors[0]._settings))
            throw new ArgumentException("a stacked projection needs one B×m×n gradient stack for B projectors of that shape and settings", nameof(projectors));
    }

    private void Refresh(Tensor grad)
    {
        using var scope = NewDisposeScope();
        var (u, _, vh) = linalg.svd(grad.to(ScalarType.Float32), fullMatrices: false);
        SetFromSvd(u, vh);
    }

    // The new basis from an SVD of this step's gradient: cosine of the top vectors (the reference's .item()), codes.
    private void SetFromSvd(Tensor u, Tensor vh)
    {
        var basis = Right ? vh.narrow(0, 0, EffectiveRank) : u.narrow(1, 0, EffectiveRank);
        var top = (Right ? basis.narrow(0, 0, 1) : basis.narrow(1, 0, 1)).flatten();
        double? similarity = Gap.RefreshCount == 0
            ? null
            : nn.functional.cosine_similarity(TopVector, top, dim: 0).item<float>();
        Gap.Record(similarity);
        TopVector.copy_(top);
        if (Scales is null || Zeros is null) Codes.copy_(basis);
        else GroupQuantizer.QuantizeInto(basis.contiguous(), _settings.GroupSize, _settings.Bits, Codes, Scales, Zeros);
    }

    public void Dispose()
    {
        Codes.Dispose();
        Scales?.Dispose();
        Zeros?.Dispose();
        TopVector.Dispose();
        Gap.Dispose();
    }
}
