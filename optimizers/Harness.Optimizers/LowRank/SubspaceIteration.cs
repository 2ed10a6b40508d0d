using static TorchSharp.torch;

namespace Harness.Optimizers.LowRank;

/// <summary>
/// Warm-started subspace iteration (block power method with QR; Golub &amp; Van Loan §8.2.4, Halko et al. 2011 §4.5):
/// refines an orthonormal basis towards the top-r' left singular subspace of a gradient, from the basis of the previous
/// refresh, without an SVD.
/// </summary>
/// <remarks>
/// In left form (G m×n, Q m×r' orthonormal): <c>q</c> times, <c>Q ← qr(G·(Gᵀ·Q)).Q</c>, each column's sign chosen so that
/// R's diagonal is ≥ 0. The error in the subspace shrinks by about (σ_{r'+1}/σ_{r'})² per iteration, so it converges when
/// the new gradient's top subspace is near the old one (GaLore's premise for keeping moments across a refresh). The
/// sign choice keeps column i of the new basis on the side of column i of the old one (qᵢᵀ·GGᵀ·qᵢ ≥ 0), so the moments'
/// coordinates do not flip as an SVD's arbitrary signs can. Cost per iteration: two products of m·n·r' multiply-adds
/// and a QR of m×r', against the SVD's O(m·n·min(m, n)). Works on a matrix or a stack of matrices.
/// </remarks>
public static class SubspaceIteration
{
    /// <summary>The default iterations per refresh.</summary>
    public const int DefaultIterations = 2;

    /// <param name="g">The gradient (…×m×n), float32.</param>
    /// <param name="basis">The previous basis Q (…×m×r', orthonormal columns), float32.</param>
    /// <param name="iterations">q ≥ 1.</param>
    /// <returns>The refined basis (…×m×r'), a new float32 tensor in the caller's dispose scope.</returns>
    public static Tensor Refine(Tensor g, Tensor basis, int iterations)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(basis);
        ArgumentOutOfRangeException.ThrowIfLessThan(iterations, 1);
        using var scope = NewDisposeScope();
        var gt = g.transpose(-2, -1);
        var q = basis;
        for (var i = 0; i < iterations; i++)
        {
            var (qNew, r) = linalg.qr(g.matmul(gt.matmul(q)));
            var diagonal = r.diagonal(0, -2, -1);
            q = qNew.mul_(diagonal.ge(0).to_type(ScalarType.Float32).mul_(2).sub_(1).unsqueeze(-2)); // +1 where R_ii ≥ 0, else −1
        }
        return q.MoveToOuterDisposeScope();
    }
}
