using Harness.Optimizers;
using Harness.Optimizers.Adam8bit;
using Harness.Optimizers.AdamW;
using Harness.Optimizers.Gefen;

namespace Harness.Core.Checks;

/// <summary>
/// An optimizer with a fused kernel, as the whole-run checks build it: <see cref="Create"/> takes the parameters, the
/// <c>implementation</c> and the run's setup (weight decay, 8-bit threshold).
/// </summary>
public sealed record FusedOptimizerCase(string Kind, Func<IReadOnlyList<NamedParameter>, string, WholeRunSetup, IOptimizer> Create)
{
    /// <summary>AdamW, 8-bit Adam (bitsandbytes 0.43.1 defaults but min_8bit_size, B = 2048) and Gefen, betas (0.9, 0.95).</summary>
    public static IReadOnlyList<FusedOptimizerCase> All { get; } =
    [
        new("adamw", (ps, impl, s) => new AdamW(ps, new AdamWOptions { Betas = [0.9, 0.95], WeightDecay = s.WeightDecay, Implementation = impl })),
        new("adam8bit", (ps, impl, s) => new Adam8bit(ps, new Adam8bitOptions
            { Betas = [0.9, 0.95], WeightDecay = s.WeightDecay, Min8BitSize = s.Min8BitSize, Implementation = impl })),
        new("gefen", (ps, impl, s) => new Gefen(ps, new GefenOptions { Betas = [0.9, 0.95], WeightDecay = s.WeightDecay, Implementation = impl })),
    ];
}
