using Harness.Optimizers.AdamW;
using Harness.Optimizers.Lion;
using Harness.Optimizers.Swan;

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
        OptimizerDescriptor.Of<AdamWOptions>("adamw", OptimizerTraits.PerParameterStep | OptimizerTraits.SlabStep,
            "AdamW, decoupled weight decay (arXiv 1711.05101; torch.optim.AdamW)", (p, _) => 2 * ParamBytes(p), (p, o) => new AdamW.AdamW(p, o)),
        OptimizerDescriptor.Of<LionOptions>("lion", OptimizerTraits.PerParameterStep | OptimizerTraits.SlabStep,
            "Lion, sign momentum (arXiv 2302.06675; google/automl lion)", (p, _) => ParamBytes(p), (p, o) => new Lion.Lion(p, o)),
        OptimizerDescriptor.Of<SwanOptions>("swan", OptimizerTraits.PerParameterStep | OptimizerTraits.Stateless,
            "SWAN, stateless GradNorm + GradWhitening, Adam off-matrix (arXiv 2412.13148; no public code)", (p, o) => 2 * ParamBytes(p.Where(q => !Swan.Swan.UsesSwan(q, o)).ToList()), (p, o) => new Swan.Swan(p, o)),
    ];

    /// <summary>The entry for a kind, or null.</summary>
    public static OptimizerDescriptor? Find(string kind) =>
        All.FirstOrDefault(d => string.Equals(d.Kind, kind, StringComparison.Ordinal));
}
