using Harness.Optimizers;

namespace Harness.Core.Checks;

/// <summary>
/// An optimizer with a fused kernel, as the whole-run checks build it: <see cref="Create"/> takes the parameters, the
/// <c>implementation</c> and the run's setup (weight decay, 8-bit threshold); <see cref="StateRelative"/> bounds its floating
/// state after the run (<see cref="CheckSettings.WholeRunStateRelative"/>).
/// </summary>
public sealed record FusedOptimizerCase(string Kind, Func<IReadOnlyList<NamedParameter>, string, WholeRunSetup, IOptimizer> Create,
    double StateRelative = 1e-6)
{
    /// <summary>
    /// The catalog's fused optimizers whose line gives whole-run options (<see cref="CheckSettings.WholeRunOptions"/>:
    /// AdamW, 8-bit Adam with the setup's min_8bit_size, Gefen; betas (0.9, 0.95)), in catalog order.
    /// </summary>
    public static IReadOnlyList<FusedOptimizerCase> All { get; } =
        FusedEquivalence.Optimizers.Where(d => d.Checks.WholeRunOptions is not null)
            .Select(d => new FusedOptimizerCase(d.Kind, (ps, impl, s) => d.Create(ps, d.Checks.WholeRunOptions!(s.WeightDecay, s.Min8BitSize, impl)),
                d.Checks.WholeRunStateRelative))
            .ToList();
}
