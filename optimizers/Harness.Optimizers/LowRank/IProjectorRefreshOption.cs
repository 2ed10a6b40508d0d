namespace Harness.Optimizers.LowRank;

/// <summary>
/// Implemented by the options record of an optimizer whose SVD projector can be refreshed by subspace iteration
/// (<c>projector:</c>, <c>projector_iterations:</c>; its catalog line carries <see cref="OptimizerTraits.SubspaceIterationRefresh"/>).
/// </summary>
public interface IProjectorRefreshOption
{
    /// <summary>Null (the default, left out of the run id) = <see cref="ProjectorRefresh.Svd"/>.</summary>
    ProjectorRefresh? Projector { get; }

    /// <summary>Power/QR iterations per refresh with <see cref="ProjectorRefresh.SubspaceIteration"/>; null = the default.</summary>
    int? ProjectorIterations { get; }

    /// <summary>These options with the refresh method (and iterations) set, for the checks that iterate the catalog by trait.</summary>
    OptimizerOptions WithProjector(ProjectorRefresh? projector, int? iterations);
}
