namespace Harness.Optimizers.Apollo;

/// <summary>
/// APOLLO's step cost for the step benchmark: the minimum bytes, and per projected matrix the random projection of the
/// gradient, 2·r·m·n (r = 1 for APOLLO-Mini); the update scales the full gradient, so there is no way back. The
/// projection is redrawn every <c>update_proj_gap</c> steps (the refresh).
/// </summary>
public static class ApolloStepCost
{
    public static StepCost Of(IReadOnlyList<NamedParameter> parameters, ApolloOptions o, long stateBytes) =>
        new(StepCost.MinimumBytes(parameters, stateBytes),
            StepCost.SumOverMatrices(parameters, Apollo.IsProjected, (m, n) => 2 * o.EffectiveRank * m * n),
            o.UpdateProjGap);

    public static ApolloOptions RefreshEachStep(ApolloOptions o) => o with { UpdateProjGap = 1 };
}
