namespace Harness.Optimizers;

/// <summary>What the planner, the CLI and the conformance tests need to know about an optimizer.</summary>
[Flags]
public enum OptimizerTraits
{
    None = 0,
    /// <summary>
    /// The update can be applied per parameter as its gradient appears, in any order, to the same result as the whole
    /// step (<see cref="IPerParameterStep"/>): <c>step_mode: per_layer</c> needs it, and FORGE for the non-fused parameters.
    /// </summary>
    PerParameterStep = 1,
    /// <summary>Matrix-role parameters are updated in a projected (low-rank) space.</summary>
    ProjectsMatrices = 2,
    /// <summary>Some state is stored quantized (8-bit codes, codebooks).</summary>
    QuantizedState = 4,
    /// <summary>No persistent state for (some) parameters.</summary>
    Stateless = 8,
    /// <summary>A fused CUDA kernel exists for the step (<see cref="Kernels.IFusedKernelUser"/>: the runner attaches the kernels).</summary>
    HasCudaKernel = 16,
    /// <summary>The rule is element-wise, so it can run on row slabs of a weight (<see cref="ISlabStep"/>; FORGE).</summary>
    SlabStep = 32,
    /// <summary>A FORGE linear weight can be stepped by one kernel that also forms its gradient (<see cref="ITileFusedLinearStep"/>).</summary>
    TileFusedLinear = 64,
    /// <summary>The options take <c>matmul_precision: highest|tf32</c> (<see cref="IMatmulPrecisionOption"/>).</summary>
    MatmulPrecisionOption = 128,
    /// <summary>
    /// The options take <c>projector: svd|subspace_iteration</c> and <c>projector_iterations</c>
    /// (<see cref="LowRank.IProjectorRefreshOption"/>).
    /// </summary>
    SubspaceIterationRefresh = 256,
}
