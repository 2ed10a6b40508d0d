namespace Harness.Optimizers;

/// <summary>
/// Implemented by the options record of an optimizer that takes <c>matmul_precision:</c> (its catalog line carries
/// <see cref="OptimizerTraits.MatmulPrecisionOption"/>). The optimizer opens a <see cref="MatmulPrecisionScope"/> around
/// the products of its step.
/// </summary>
public interface IMatmulPrecisionOption
{
    /// <summary>Null (the default, left out of the run id) = <see cref="MatmulPrecision.Highest"/>.</summary>
    MatmulPrecision? MatmulPrecision { get; }

    /// <summary>These options with <see cref="MatmulPrecision"/> set (for the checks that iterate the catalog by trait).</summary>
    OptimizerOptions WithMatmulPrecision(MatmulPrecision? precision);
}
