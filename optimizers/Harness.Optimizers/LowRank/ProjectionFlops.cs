namespace Harness.Optimizers.LowRank;

/// <summary>Matrix-product FLOPs of projecting an m×n gradient to rank r and back (2·m·n·k per m×k by k×n product).</summary>
public static class ProjectionFlops
{
    /// <summary>
    /// Project and project back with the basis on one or both sides (<see cref="SvdProjector.Sides"/>), r' = min(r, m, n):
    /// one side 2·m·n·r' each way; both sides add the r'×r' core products, 2·r'²·(m + n).
    /// </summary>
    public static long RoundTrip(long m, long n, long rank, bool left, bool right)
    {
        var r = Math.Min(rank, Math.Min(m, n));
        var oneSided = 4 * m * n * r;
        return left && right ? oneSided + 2 * r * r * (m + n) : oneSided;
    }

    /// <summary>
    /// The step cost of a low-rank Adam (GaLore, Q-GaLore, SubTrack++): the minimum bytes, <paramref name="perMatrix"/>
    /// (rows, columns) summed over the projected 2-D Matrix-role parameters, and the refresh gap.
    /// </summary>
    public static StepCost StepCost(IReadOnlyList<NamedParameter> parameters, long stateBytes, Func<long, long, long> perMatrix, int refreshEvery) =>
        new(Optimizers.StepCost.MinimumBytes(parameters, stateBytes),
            Optimizers.StepCost.SumOverMatrices(parameters, p => p.Role == ParamRole.Matrix && p.Value.dim() == 2, perMatrix), refreshEvery);
}
