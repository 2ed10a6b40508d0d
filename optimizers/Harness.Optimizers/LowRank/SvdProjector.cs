using static TorchSharp.torch;

namespace Harness.Optimizers.LowRank;

/// <summary>
/// GaLore's projector (<c>galore_torch/galore_projector.py</c>, jiaweizzhao/GaLore @2cc66f8): the top-r
/// singular vectors of the current gradient, recomputed when <c>step % updateGap == 0</c>.
/// </summary>
/// <remarks>
/// For a gradient G (m×n), r' = min(r, m, n):
/// <code>
/// proj_type    side chosen                 Project(G)     ProjectBack(N)
/// std          right if m ≥ n, else left   G·Bᵀ | Aᵀ·G    α·N·B | α·A·N
/// reverse_std  left if m ≥ n, else right   Aᵀ·G | G·Bᵀ    α·A·N | α·N·B
/// right / left always that side
/// full         both                        Aᵀ·G·Bᵀ        α·A·N·B
/// </code>
/// A = U[:, :r'] (m×r'), B = Vh[:r', :] (r'×n) from <c>svd(G in float32, full_matrices=false)</c>, cast
/// back to the gradient's dtype. The side is fixed per parameter (it depends only on the shape), so it is
/// chosen once here; the reference re-derives it in <c>project_back</c> from the low-rank shape, which
/// agrees everywhere except <c>reverse_std</c> with r' = min(m, n) on a wide matrix, where the reference
/// fails with a shape error and this class uses the side it projected with. With
/// <see cref="ProjectorRefresh.SubspaceIteration"/> (not the reference) every refresh after the first refines the
/// previous basis by <see cref="SubspaceIteration"/> instead of taking an SVD.
/// </remarks>
public sealed class SvdProjector : IProjector
{
    /// <summary>The accepted <c>proj_type</c> values.</summary>
    public static readonly IReadOnlyList<string> ProjTypes = ["std", "reverse_std", "left", "right", "full"];

    private readonly long _updateGap;
    private readonly double _scale;
    private readonly Tensor? _left;   // A, m×r'
    private readonly Tensor? _right;  // B, r'×n
    private readonly Func<long, ulong>? _signFlips;
    private readonly ProjectorRefresh _refresh;
    private readonly int _iterations;

    /// <param name="shape">The parameter's shape (m, n).</param>
    /// <param name="rank">Requested rank; clamped to min(m, n) as the reference's slice does.</param>
    /// <param name="signFlips">Optional, for sign-choice replays (<see cref="ISvdSignChoice"/>): for an SVD step, the
    /// mask of singular vector pairs (uᵢ, vᵢ) to negate (bit i = the (i+1)-th largest); null keeps LAPACK's signs.</param>
    /// <param name="refresh">How the basis is recomputed after the first refresh (the first is always an SVD).</param>
    /// <param name="iterations">Iterations per refresh with <see cref="ProjectorRefresh.SubspaceIteration"/>.</param>
    public SvdProjector(long[] shape, ScalarType dtype, Device device, int rank, long updateGap, double scale, string projType,
        Func<long, ulong>? signFlips = null, ProjectorRefresh refresh = ProjectorRefresh.Svd, int iterations = SubspaceIteration.DefaultIterations)
    {
        if (shape.Length != 2) throw new ArgumentException($"a projector needs a 2-D parameter (got [{string.Join(",", shape)}])", nameof(shape));
        if (rank <= 0) throw new ArgumentOutOfRangeException(nameof(rank), rank, "must be > 0");
        if (updateGap <= 0) throw new ArgumentOutOfRangeException(nameof(updateGap), updateGap, "must be > 0");
        var (m, n) = (shape[0], shape[1]);
        Rank = Math.Min(rank, Math.Min(m, n));
        _updateGap = updateGap;
        _scale = scale;
        _signFlips = signFlips;
        _refresh = refresh;
        _iterations = iterations;
        var (useLeft, useRight) = Sides(projType, m, n);
        if (useLeft) _left = zeros([m, Rank], dtype, device);
        if (useRight) _right = zeros([Rank, n], dtype, device);
        ProjectedShape = [useLeft ? Rank : m, useRight ? Rank : n];
    }

    /// <summary>The rank in use, r' = min(r, m, n).</summary>
    public long Rank { get; }

    public long[] ProjectedShape { get; }

    /// <summary>Which bases a projection type uses for an m×n matrix: (left A, right B).</summary>
    public static (bool Left, bool Right) Sides(string projType, long m, long n) => projType switch
    {
        "std" => (m < n, m >= n),
        "reverse_std" => (m >= n, m < n),
        "left" => (true, false),
        "right" => (false, true),
        "full" => (true, true),
        _ => throw new ArgumentException($"unknown proj_type '{projType}' (expected one of {string.Join(", ", ProjTypes)})", nameof(projType)),
    };

    public Tensor Project(Tensor grad, long step)
    {
        RefreshIfDue(grad, step);
        var low = _left is null ? grad : _left.t().matmul(grad);
        return _right is null ? low : low.matmul(_right.t());
    }

    public Tensor ProjectBack(Tensor lowRank)
    {
        var full = _left is null ? lowRank : _left.matmul(lowRank);
        if (_right is not null) full = full.matmul(_right);
        return full.mul_(_scale);
    }

    /// <summary>Recomputes the basis from <paramref name="grad"/> when the schedule says so at this 0-based step.</summary>
    public void RefreshIfDue(Tensor grad, long step)
    {
        if (step % _updateGap == 0) Refresh(grad, step);
    }

    /// <summary>True when exactly one side is projected (every proj_type but <c>full</c>): the batched step's case.</summary>
    public bool OneSided => _left is null != _right is null;

    /// <summary>
    /// <see cref="Project"/> for a stack of same-shaped gradients (B×m×n) with one-sided projectors of equal
    /// side and rank, as one bmm against the stacked bases; the bases must already be refreshed.
    /// </summary>
    public static Tensor ProjectStack(IReadOnlyList<SvdProjector> projectors, Tensor grads)
    {
        ArgumentNullException.ThrowIfNull(projectors);
        ArgumentNullException.ThrowIfNull(grads);
        if (projectors.Any(p => !p.OneSided || p._left is null != projectors[0]._left is null))
            throw new ArgumentException("a stacked projection needs one-sided projectors of the same side", nameof(projectors));
        using var scope = NewDisposeScope();
        var low = projectors[0]._left is null
            ? grads.bmm(stack(projectors.Select(p => p._right!)).transpose(1, 2))
            : stack(projectors.Select(p => p._left!)).transpose(1, 2).bmm(grads);
        return low.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <c>target += alpha·ProjectBack(lowRank)</c> in place, as one addmm (no m×n temporary; one-sided only).
    /// </summary>
    public void AddProjectBack(Tensor target, Tensor lowRank, double alpha)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (!OneSided) throw new InvalidOperationException("AddProjectBack needs a one-sided projector");
        var a = (float)(alpha * _scale);
        if (_left is not null) target.addmm_(_left, lowRank, beta: 1, alpha: a);
        else target.addmm_(lowRank, _right!, beta: 1, alpha: a);
    }

    public IEnumerable<(string Name, Tensor Tensor)> Tensors =>
        new[] { ("proj_left", _left), ("proj_right", _right) }.Where(t => t.Item2 is not null).Select(t => (t.Item1, t.Item2!));

    /// <summary>The 0-based steps in [from, to) at which a projector with this gap takes an SVD (from ≥ 0).</summary>
    public static IEnumerable<long> SvdSteps(long updateGap, long from, long to)
    {
        for (var s = (from + updateGap - 1) / updateGap * updateGap; s < to; s += updateGap) yield return s;
    }

    /// <summary>
    /// <see cref="RefreshIfDue"/> for a stack of same-shaped gradients (B×m×n) whose one-sided projectors share side, rank,
    /// gap and refresh method: one batched <c>linalg.svd</c> (or one batched subspace iteration) for the whole stack.
    /// The bases equal the per-matrix refresh's: on CPU torch runs the same LAPACK routine per matrix; on CUDA a batched
    /// call may pick another cuSOLVER routine and so other signs of singular vector pairs, an equally exact SVD (see
    /// <see cref="ISvdSignChoice"/>). Sign replays apply per projector. The SVD's factors of a whole group would be a
    /// transient of the group's size at every refresh (2.9 GB for LLaMA-1B's 48 MLP matrices), so one call takes as many
    /// matrices as keep U and Vᴴ within <paramref name="svdChunkBytes"/>: all 32 attention matrices of LLaMA-60M at the
    /// default 64 MiB, one 5461×2048 matrix at a time, whose SVD is long enough that batching gains nothing.
    /// </summary>
    public static void RefreshStackIfDue(IReadOnlyList<SvdProjector> projectors, Tensor grads, long step, long svdChunkBytes = 64L << 20)
    {
        ArgumentNullException.ThrowIfNull(projectors);
        ArgumentNullException.ThrowIfNull(grads);
        if (projectors.Count == 0 || step % projectors[0]._updateGap != 0) return;
        var first = projectors[0];
        if (projectors.Any(p => !p.OneSided || p._left is null != first._left is null || p.Rank != first.Rank
                || p._updateGap != first._updateGap || p._refresh != first._refresh || p._iterations != first._iterations))
            throw new ArgumentException("a stacked refresh needs one-sided projectors of the same side, rank, gap and method", nameof(projectors));
        using var scope = NewDisposeScope();
        var g = grads.to(ScalarType.Float32);
        if (first.UsesSubspaceIteration(step))
        {
            var basis = stack(projectors.Select(p => p.LeftFormBasis().to(ScalarType.Float32)));
            var refined = SubspaceIteration.Refine(first._left is null ? g.transpose(-2, -1) : g, basis, first._iterations);
            for (var i = 0; i < projectors.Count; i++) projectors[i].SetLeftFormBasis(refined[i]);
            return;
        }
        var (m, n) = (g.shape[1], g.shape[2]);
        var chunk = (int)Math.Clamp(svdChunkBytes / (sizeof(float) * Math.Min(m, n) * (m + n)), 1, projectors.Count);
        for (var start = 0; start < projectors.Count; start += chunk)
        {
            using var chunkScope = NewDisposeScope();
            var count = Math.Min(chunk, projectors.Count - start);
            var (u, _, vh) = linalg.svd(g[start..(start + count)], fullMatrices: false);
            for (var i = 0; i < count; i++) projectors[start + i].SetFromSvd(u[i], vh[i], step);
        }
    }

    /// <summary>True when the refresh at this 0-based step is a full SVD (every refresh with <c>svd</c>; the first one otherwise).</summary>
    public bool TakesSvdAt(long step) => step % _updateGap == 0 && !UsesSubspaceIteration(step);

    private bool UsesSubspaceIteration(long step) => _refresh == ProjectorRefresh.SubspaceIteration && step > 0;

    private void Refresh(Tensor grad, long step)
    {
        using var scope = NewDisposeScope();
        var g = grad.to(ScalarType.Float32);
        if (UsesSubspaceIteration(step))
        {
            // One side is refined in left form (A, or Bᵀ against Gᵀ); full projectors refine both sides.
            if (_left is not null) _left.copy_(SubspaceIteration.Refine(g, _left.to(ScalarType.Float32), _iterations));
            if (_right is not null) _right.copy_(SubspaceIteration.Refine(g.t(), _right.t().to(ScalarType.Float32), _iterations).t());
            return;
        }
        var (u, _, vh) = linalg.svd(g, fullMatrices: false);
        SetFromSvd(u, vh, step);
    }

    // The one-sided basis in left form: A (m×r') or Bᵀ (n×r').
    private Tensor LeftFormBasis() => _left ?? _right!.t();

    private void SetLeftFormBasis(Tensor q)
    {
        if (_left is not null) _left.copy_(q);
        else _right!.copy_(q.t());
    }

    private void SetFromSvd(Tensor u, Tensor vh, long step)
    {
        var mask = _signFlips?.Invoke(step) ?? 0;
        var signs = mask == 0 ? null
            : tensor(Enumerable.Range(0, (int)Rank).Select(i => (mask >> i & 1) == 1 ? -1f : 1f).ToArray()).to(u.device);
        var a = u[.., ..(int)Rank];
        var b = vh[..(int)Rank, ..];
        _left?.copy_(signs is null ? a : a * signs);
        _right?.copy_(signs is null ? b : b * signs.unsqueeze(1));
    }
}
