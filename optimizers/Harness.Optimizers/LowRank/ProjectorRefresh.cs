namespace Harness.Optimizers.LowRank;

/// <summary>How <see cref="SvdProjector"/> recomputes its basis (GaLore's <c>projector:</c> option).</summary>
public enum ProjectorRefresh
{
    /// <summary>A full SVD of the gradient at every refresh (the reference).</summary>
    Svd,
    /// <summary>
    /// The SVD at the first refresh, then a few warm-started subspace (block power) iterations from the previous basis with
    /// a QR each (<see cref="SubspaceIteration"/>): the same subspace where the gradient's top-r' subspace drifts slowly,
    /// at O(iterations·m·n·r') instead of O(m·n·min(m, n)).
    /// </summary>
    SubspaceIteration,
}
