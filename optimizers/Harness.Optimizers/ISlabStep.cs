namespace Harness.Optimizers;

/// <summary>
/// Optimizers whose rule is element-wise (each output element depends only on the same element of the
/// parameter, gradient and state), so it can be applied to row slabs of a weight as their gradients are
/// produced, without the whole gradient ever existing (the FORGE fused-backward driver). Implemented exactly by
/// the optimizers whose catalog line has <see cref="OptimizerTraits.SlabStep"/> (a rule that needs the whole
/// gradient, such as a norm, a projection or a whitening, has neither).
/// </summary>
public interface ISlabStep
{
    /// <summary>
    /// Slab boundaries of <paramref name="parameter"/> must fall on multiples of this many rows (the end of
    /// the tensor excepted): 1 for a purely element-wise state; more when the state is stored in blocks of
    /// the flattened tensor (8-bit Adam's absmax blocks), so that no block is split between two slabs.
    /// </summary>
    long SlabRowAlignment(NamedParameter parameter);

    /// <summary>
    /// One step of <paramref name="parameter"/> whose gradient arrives as <paramref name="slabs"/>, enumerated
    /// lazily, one at a time, inside a dispose scope that frees each slab after its update. The step counter
    /// advances once for the whole call, not once per slab. Slabs must not overlap, and each must start and
    /// end on a multiple of <see cref="SlabRowAlignment"/> rows (or end at the last row).
    /// </summary>
    void StepSlabs(NamedParameter parameter, IEnumerable<GradientSlab> slabs, double learningRate);
}
