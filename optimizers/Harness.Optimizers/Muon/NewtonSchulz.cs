using static TorchSharp.torch;

namespace Harness.Optimizers.Muon;

/// <summary>
/// Muon's quintic Newton–Schulz orthogonalisation (Jordan et al. 2024): maps a matrix G = U·S·Vᵀ to about
/// U·S'·Vᵀ with S' in roughly [0.7, 1.2], in a few matrix products and no SVD.
/// </summary>
public static class NewtonSchulz
{
    /// <summary>The references' coefficients (a, b, c), chosen to maximise the slope at zero.</summary>
    public static IReadOnlyList<double> QuinticCoefficients { get; } = [3.4445, -4.7750, 2.0315];

    /// <summary>
    /// Orthogonalises each matrix of <paramref name="g"/> (<c>[m, n]</c> or a batch <c>[B, m, n]</c>) in
    /// <paramref name="dtype"/>: X = G/max(‖G‖_F, ε) on the wide orientation (m ≤ n), then
    /// <paramref name="steps"/> times A = X·Xᵀ, X ← a·X + (b·A + c·A·A)·X, and back to G's orientation.
    /// The result is a new tensor in <paramref name="dtype"/>, in the caller's dispose scope. A zero matrix
    /// gives zeros.
    /// </summary>
    public static Tensor Orthogonalize(Tensor g, IReadOnlyList<double> coefficients, int steps, double eps, ScalarType dtype)
    {
        ArgumentNullException.ThrowIfNull(g);
        ArgumentNullException.ThrowIfNull(coefficients);
        if (g.dim() is < 2 or > 3) throw new ArgumentException($"expected a matrix or a batch of matrices, got {g.dim()} dimensions", nameof(g));
        var (a, b, c) = (coefficients[0], coefficients[1], coefficients[2]);
        using var scope = NewDisposeScope();
        // The Gram matrix is taken on the shorter side, so a tall matrix is iterated transposed.
        var tall = g.size(-2) > g.size(-1);
        var x = g.to_type(dtype);
        if (tall) x = x.transpose(-2, -1);
        // Frobenius norm per matrix (≥ the spectral norm), so every singular value starts in [0, 1].
        var norm = x.square().sum([-2, -1], keepdim: true, type: ScalarType.Float32).sqrt_().clamp_min_(eps).to_type(dtype);
        x = x / norm;
        for (var i = 0; i < steps; i++)
        {
            var gram = x.matmul(x.transpose(-2, -1));
            var poly = gram * b + gram.matmul(gram) * c;
            x = x * a + poly.matmul(x);
        }
        if (tall) x = x.transpose(-2, -1);
        return x.contiguous().MoveToOuterDisposeScope();
    }
}
