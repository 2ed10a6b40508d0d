using Harness.Optimizers.LowRank;

namespace Harness.Optimizers.QGaLore;

/// <summary>
/// Q-GaLore's step cost for the step benchmark: the minimum bytes, and GaLore's one-sided projection and way back per
/// projected matrix (4·m·n·r'; dequantizing the INT4 basis is element-wise); the (adaptive) SVD is the refresh, every
/// <c>update_proj_gap</c> steps at first. Refreshing at every step also fixes the gap (<c>gamma_proj</c> 1).
/// </summary>
public static class QGaLoreStepCost
{
    public static StepCost Of(IReadOnlyList<NamedParameter> parameters, QGaLoreOptions o, long stateBytes) =>
        ProjectionFlops.StepCost(parameters, stateBytes, (m, n) => ProjectionFlops.RoundTrip(m, n, o.Rank, m < n, m >= n), o.UpdateProjGap);

    public static QGaLoreOptions RefreshEachStep(QGaLoreOptions o) => o with { UpdateProjGap = 1, GammaProj = 1 };
}
