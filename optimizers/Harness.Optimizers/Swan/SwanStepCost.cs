namespace Harness.Optimizers.Swan;

/// <summary>
/// SWAN's step cost for the step benchmark: the minimum bytes, and per whitened matrix (s = shorter side, l = longer)
/// the Gram matrix (2·s²·l), the coupled Newton–Schulz iteration with k steps (3k − 3 products of s×s matrices, as
/// <see cref="Swan.Whiten"/> skips the identity products: (6k − 6)·s³) and the whitened product (2·s²·l). Stateless:
/// no refresh.
/// </summary>
public static class SwanStepCost
{
    public static StepCost Of(IReadOnlyList<NamedParameter> parameters, SwanOptions o, long stateBytes) =>
        new(StepCost.MinimumBytes(parameters, stateBytes),
            StepCost.SumOverMatrices(parameters, p => Swan.UsesSwan(p, o), (m, n) =>
            {
                var (s, l) = (Math.Min(m, n), Math.Max(m, n));
                return 4 * s * s * l + (6L * o.NsSteps - 6) * s * s * s;
            }),
            0);
}
