using Harness.Optimizers.LowRank;

namespace Harness.Optimizers.GaLore;

/// <summary>
/// GaLore's step cost for the step benchmark: the minimum bytes, and per projected matrix the projection and its way back
/// (<see cref="ProjectionFlops.RoundTrip"/>, 4·m·n·r' one-sided); the SVD every <c>update_proj_gap</c> steps is the refresh.
/// </summary>
public static class GaLoreStepCost
{
    public static StepCost Of(IReadOnlyList<NamedParameter> parameters, GaLoreOptions o, long stateBytes) =>
        ProjectionFlops.StepCost(parameters, stateBytes, (m, n) =>
        {
            var (left, right) = SvdProjector.Sides(o.ProjType, m, n);
            return ProjectionFlops.RoundTrip(m, n, o.Rank, left, right);
        }, o.UpdateProjGap);

    public static GaLoreOptions RefreshEachStep(GaLoreOptions o) => o with { UpdateProjGap = 1 };
}
