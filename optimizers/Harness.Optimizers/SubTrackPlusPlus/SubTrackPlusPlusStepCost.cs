using Harness.Optimizers.LowRank;

namespace Harness.Optimizers.SubTrackPlusPlus;

/// <summary>
/// SubTrack++'s step cost for the step benchmark: the minimum bytes, and per tracked matrix three m×n×r' products
/// (project G, add back the update, subtract the reconstructed scaled low-rank part in the recovery term): 6·m·n·r'.
/// The Grassmann subspace update every <c>update_interval</c> steps is the refresh.
/// </summary>
public static class SubTrackPlusPlusStepCost
{
    public static StepCost Of(IReadOnlyList<NamedParameter> parameters, SubTrackPlusPlusOptions o, long stateBytes) =>
        ProjectionFlops.StepCost(parameters, stateBytes, (m, n) => 6 * m * n * Math.Min(o.Rank, Math.Min(m, n)), o.UpdateInterval);

    public static SubTrackPlusPlusOptions RefreshEachStep(SubTrackPlusPlusOptions o) => o with { UpdateInterval = 1 };
}
