namespace Harness.Optimizers.Swan;

/// <summary>
/// Which vectors SWAN's GradNorm standardises (<c>norm_axis:</c>). The paper body was not available, so
/// the axis is an option (see <see cref="Swan"/>).
/// </summary>
public enum SwanNormAxis
{
    /// <summary>Each row of the <c>[out, in]</c> tensor over the input dimension (dim 1), as the spec recommends.</summary>
    Input,
    /// <summary>Each column over the output dimension (dim 0).</summary>
    Output,
    /// <summary>Each vector of the shorter dimension over the longer one (the authors' "m ≤ n, rows over n" convention).</summary>
    Longer,
}
