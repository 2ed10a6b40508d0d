using static TorchSharp.torch;

namespace Harness.Optimizers.LowRank;

/// <summary>
/// SubTrack++'s projector (<c>low_rank_torch/low_rank_projector.py</c>, criticalml-uw/SubTrack @94f2b65):
/// an orthonormal basis of the smaller side, initialised from the SVD at step 0 and then moved every
/// k steps along a Grassmann geodesic towards the current gradient (a rank-1 rotation).
/// </summary>
/// <remarks>
/// Internally everything is in "left form": G' = G for a wide matrix (m &lt; n), G' = Gᵀ otherwise, so the
/// basis S (s×r', s = min(m, n)) always spans columns of G'. Projections keep the reference's layout
/// (Sᵀ·G, r'×n, or G·S, m×r'). A tracking step, with A = Sᵀ·G', R = G' − S·A and ∂F = −2·R·Aᵀ:
/// <code>
/// T = (I − S·Sᵀ)·∂F;  (u, σ, v) = top singular triple of T
/// S ← (S·v·cos(ησ) − u·sin(ησ))·vᵀ + S·(I − v·vᵀ)
/// </code>
/// With <c>codeSemantics</c> a tall or square matrix is tracked as the released code does: with its row
/// basis B = Sᵀ in place of S, so I − B·Bᵀ ≈ 0 and the basis only drifts by rounding noise; the initial
/// basis S₀ is kept as well (the code's <c>prev_ortho_matrix</c>, never updated after step 0).
/// </remarks>
public sealed class GrassmannProjector : IProjector
{
    private readonly long _interval;
    private readonly double _scale;
    private readonly double _stepSize;
    private readonly bool _code;
    private readonly bool _transposed;

    /// <param name="shape">The parameter's shape (m, n).</param>
    /// <param name="rank">Requested rank; clamped to min(m, n) as the reference's SVD slice does.</param>
    /// <param name="interval">k: the basis moves at steps k, 2k, … (0-based).</param>
    /// <param name="stepSize">η, the geodesic step size.</param>
    /// <param name="codeSemantics">Reproduce the released code (see remarks) instead of the paper.</param>
    /// <param name="basis">Optional storage for S (s×r', zero, the parameter's dtype): a view into a shape group's stacked
    /// bases, for instance (see <see cref="TrackStack"/>); allocated here when null.</param>
    /// <param name="initialBasis">Optional storage for S₀ likewise (code semantics only).</param>
    public GrassmannProjector(long[] shape, ScalarType dtype, Device device, int rank, long interval, double scale, double stepSize, bool codeSemantics,
        Tensor? basis = null, Tensor? initialBasis = null)
    {
        if (shape.Length != 2) throw new ArgumentException($"a projector needs a 2-D parameter (got [{string.Join(",", shape)}])", nameof(shape));
        if (rank <= 0) throw new ArgumentOutOfRangeException(nameof(rank), rank, "must be > 0");
        if (interval <= 0) throw new ArgumentOutOfRangeException(nameof(interval), interval, "must be > 0");
        var (m, n) = (shape[0], shape[1]);
        _transposed = m >= n;
        var side = Math.Min(m, n);
        Rank = Math.Min(rank, side);
        (_interval, _scale, _stepSize, _code) = (interval, scale, stepSize, codeSemantics);
        Basis = basis ?? zeros([side, Rank], dtype, device);
        if (codeSemantics) InitialBasis = initialBasis ?? zeros([side, Rank], dtype, device);
        if (!Basis.shape.SequenceEqual([side, Rank]) || (InitialBasis is not null && !InitialBasis.shape.SequenceEqual([side, Rank])))
            throw new ArgumentException($"basis storage must be [{side},{Rank}]", nameof(basis));
        ProjectedShape = _transposed ? [m, Rank] : [Rank, n];
    }

    /// <summary>The rank in use, r' = min(r, m, n).</summary>
    public long Rank { get; }

    /// <summary>S (s×r'), orthonormal columns spanning the tracked subspace of the smaller side.</summary>
    public Tensor Basis { get; }

    /// <summary>S₀, the basis after the step-0 SVD (code semantics only; null otherwise).</summary>
    public Tensor? InitialBasis { get; }

    public long[] ProjectedShape { get; }

    public IEnumerable<(string Name, Tensor Tensor)> Tensors =>
        InitialBasis is null ? [("basis", Basis)] : [("basis", Basis), ("basis_initial", InitialBasis)];

    /// <summary>True for a tall or square matrix (m ≥ n): projections are G·S (m×r') and the left form is transposed.</summary>
    public bool Transposed => _transposed;

    /// <summary>Whether <see cref="Project"/> moves the basis at this 0-based step.</summary>
    public bool TracksAt(long step) => step > 0 && step % _interval == 0;

    /// <summary>A projected-space tensor in left form (r'×c): a transposed view for tall matrices.</summary>
    public Tensor LeftForm(Tensor lowRank) => _transposed ? lowRank.t() : lowRank;

    public Tensor Project(Tensor grad, long step)
    {
        if (step == 0) Initialise(grad);
        else if (TracksAt(step)) Track(grad);
        return _transposed ? grad.matmul(Basis) : Basis.t().matmul(grad);
    }

    /// <summary>S·Sᵀ applied to a projected tensor, in the parameter's shape, without the scale α.</summary>
    public Tensor Reconstruct(Tensor lowRank) => _transposed ? lowRank.matmul(Basis.t()) : Basis.matmul(lowRank);

    public Tensor ProjectBack(Tensor lowRank) => Reconstruct(lowRank).mul_(_scale);

    /// <summary>α, the scale <see cref="ProjectBack"/> applies.</summary>
    public double Scale => _scale;

    /// <summary>
    /// <c>target += alpha·S·Sᵀ-reconstruction of <paramref name="lowRank"/></c> in place (one addmm, no m×n
    /// temporary); returns <paramref name="target"/>, which has the parameter's shape.
    /// </summary>
    public Tensor AddReconstruct(Tensor target, Tensor lowRank, double alpha) =>
        _transposed ? target.addmm_(lowRank, Basis.t(), beta: 1, alpha: (float)alpha) : target.addmm_(Basis, lowRank, beta: 1, alpha: (float)alpha);

    private void Initialise(Tensor grad)
    {
        using var scope = NewDisposeScope();
        var (u, _, vh) = linalg.svd(grad.to(ScalarType.Float32), fullMatrices: false);
        Basis.copy_(_transposed ? vh[..(int)Rank, ..].t() : u[.., ..(int)Rank]);
        InitialBasis?.copy_(Basis);
    }

    private void Track(Tensor grad)
    {
        using var scope = NewDisposeScope();
        Basis.copy_(Moved(Basis, grad));
    }

    /// <summary>
    /// The step-0 SVD initialisation for a stack of same-shaped gradients (B×m×n, this projector's shape and settings):
    /// <paramref name="bases"/> (B×s×r', and <paramref name="initialBases"/> with code semantics) receive what
    /// <see cref="Project"/> would give each matrix. One batched <c>linalg.svd</c> per chunk of matrices whose U and Vᴴ fit in
    /// <paramref name="svdChunkBytes"/> (as <see cref="SvdProjector.RefreshStackIfDue"/>); on CPU torch runs the same LAPACK
    /// routine per matrix, so the bases equal the per-matrix ones.
    /// </summary>
    public void InitialiseStack(Tensor bases, Tensor? initialBases, Tensor grads, long svdChunkBytes = 64L << 20)
    {
        ArgumentNullException.ThrowIfNull(bases);
        ArgumentNullException.ThrowIfNull(grads);
        var count = (int)grads.shape[0];
        var (m, n) = (grads.shape[1], grads.shape[2]);
        var chunk = (int)Math.Clamp(svdChunkBytes / (sizeof(float) * Math.Min(m, n) * (m + n)), 1, count);
        for (var start = 0; start < count; start += chunk)
        {
            using var scope = NewDisposeScope();
            var end = Math.Min(start + chunk, count);
            var (u, _, vh) = linalg.svd(grads[start..end].to(ScalarType.Float32), fullMatrices: false);
            var top = _transposed ? vh[.., ..(int)Rank, ..].transpose(1, 2) : u[.., .., ..(int)Rank];
            bases[start..end].copy_(top);
            initialBases?[start..end].copy_(bases[start..end]);
        }
    }

    /// <summary>
    /// <see cref="Project"/>'s tracking move for a stack of same-shaped gradients (B×m×n) and their bases (B×s×r', in
    /// place): the per-matrix algebra of the remarks on 3-D tensors (bmm), one batched <c>linalg.svd</c> of the B tangents,
    /// the top triple of each, the angle σ₁·η as a B-vector on the device (no host read).
    /// </summary>
    public void TrackStack(Tensor bases, Tensor grads)
    {
        ArgumentNullException.ThrowIfNull(bases);
        ArgumentNullException.ThrowIfNull(grads);
        using var scope = NewDisposeScope();
        bases.copy_(Moved(bases, grads));
    }

    // The tracking move of a basis S (s×r') towards its gradient G (m×n), or of a stack of them (B×s×r', B×m×n): the
    // remarks' algebra on the last two dimensions (matmul is mm for one matrix and bmm for a stack), one linalg.svd of the
    // tangent(s), the angle σ₁·η kept on the device (no host read).
    private Tensor Moved(Tensor basis, Tensor grad)
    {
        var g = grad.to(ScalarType.Float32);
        if (_transposed) g = g.transpose(-2, -1);
        var s = basis.to(ScalarType.Float32);
        var a = s.transpose(-2, -1).matmul(g);              // least squares for orthonormal S
        var residual = g - s.matmul(a);
        var dF = residual.matmul(a.transpose(-2, -1)).mul_(-2); // ∂F/∂S, s×r'
        // The released code moves the row basis B = Sᵀ of a tall matrix with the left formula (see remarks).
        var rowBasis = _code && _transposed;
        var x = rowBasis ? s.transpose(-2, -1) : s;
        var d = rowBasis ? dF.transpose(-2, -1) : dF;
        var tangent = (eye(x.shape[^2], dtype: x.dtype, device: x.device) - x.matmul(x.transpose(-2, -1))).matmul(d);
        var (u, sigma, vh) = linalg.svd(tangent, fullMatrices: false);
        var u1 = u.narrow(-1, 0, 1);
        var v1 = vh.narrow(-2, 0, 1).transpose(-2, -1);
        var angle = sigma.narrow(-1, 0, 1).unsqueeze(-1).mul(_stepSize);
        var rotated = (x.matmul(v1).mul_(angle.cos()) - u1.mul(angle.sin())).matmul(v1.transpose(-2, -1));
        var moved = rotated + x.matmul(eye(v1.shape[^2], dtype: x.dtype, device: x.device) - v1.matmul(v1.transpose(-2, -1)));
        return rowBasis ? moved.transpose(-2, -1) : moved;
    }
}
