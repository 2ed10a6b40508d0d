using Harness.Optimizers.AdamW;
using Harness.Optimizers.Gefen;
using Harness.Optimizers.Lion;

namespace Harness.Optimizers;

/// <summary>
/// Every optimizer the harness knows, one line each. The planner, <c>harness list</c>, the config
/// loader, the conformance tests and the micro-benchmarks all read this list, so adding a line here
/// is all the wiring a new optimizer needs.
/// </summary>
public static class OptimizerCatalog
{
    private static long ParamBytes(IReadOnlyList<NamedParameter> ps) => ps.Sum(p => p.Value.numel() * p.Value.element_size());

    public static IReadOnlyList<OptimizerDescriptor> All { get; } =
    [
        OptimizerDescriptor.Of<AdamWOptions>("adamw", OptimizerTraits.PerParameterStep,
            "AdamW, decoupled weight decay (arXiv 1711.05101; torch.optim.AdamW)", (p, _) => 2 * ParamBytes(p), (p, o) => new AdamW.AdamW(p, o)),
        OptimizerDescriptor.Of<LionOptions>("lion", OptimizerTraits.PerParameterStep,
            "Lion, sign momentum (arXiv 2302.06675; google/automl lion)", (p, _) => ParamBytes(p), (p, o) => new Lion.Lion(p, o)),
        OptimizerDescriptor.Of<GefenOptions>("gefen", OptimizerTraits.QuantizedState,
            "Gefen by Nadav Benedek, block-shared v + uint8 codebook m (arXiv 2606.13894; ndvbd/Gefen v1.2.3)", Gefen.Gefen.ExpectedStateBytesFromGradients, (p, o) => new Gefen.Gefen(p, o)),
    ];

    /// <summary>The entry for a kind, or null.</summary>
    public static OptimizerDescriptor? Find(string kind) =>
        All.FirstOrDefault(d => string.Equals(d.Kind, kind, StringComparison.Ordinal));
}
