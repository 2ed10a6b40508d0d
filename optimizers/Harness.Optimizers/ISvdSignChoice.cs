namespace Harness.Optimizers;

/// <summary>
/// Optional, for optimizers whose projection bases are singular vectors: lets a caller (the golden-trace
/// check) replay a parameter with other, equally exact, SVD sign choices.
/// </summary>
/// <remarks>
/// An SVD is unique only up to the sign of each pair (uᵢ, vᵢ) when the singular values are distinct: negating
/// both gives another exact SVD of the same matrix, and which one a LAPACK build returns depends on its
/// blocking and rounding. A method whose moments persist across a basis refresh (GaLore) produces different
/// parameters for different, equally valid, signs. Negating a pair never changes the subspace, the singular
/// values or the projection's optimality, so a deviation that a sign choice removes is not an algorithm error.
/// </remarks>
public interface ISvdSignChoice
{
    /// <summary>The 0-based steps in [<paramref name="from"/>, <paramref name="to"/>) at which the parameter's basis is recomputed by an SVD (empty when it has none).</summary>
    IReadOnlyList<long> SvdSteps(string parameter, long from, long to);

    /// <summary>How many singular vectors the parameter's basis keeps (0 when it has none).</summary>
    int BasisSize(string parameter);

    /// <summary>
    /// In the SVD taken for <paramref name="parameter"/> at 0-based step <paramref name="step"/>, negate the singular
    /// vector pairs whose bit is set in <paramref name="mask"/> (bit i = the (i+1)-th largest). Applies to SVDs not
    /// yet taken; the result is still an exact SVD of the same gradient.
    /// </summary>
    void FlipSingularVectors(string parameter, long step, ulong mask);
}
