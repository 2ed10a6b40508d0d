using Harness.Optimizers;
using Harness.Optimizers.Kernels;
using Harness.Optimizers.LowRank;

namespace Harness.Core.Bench;

/// <summary>
/// One configuration of the step benchmark: a catalog optimizer (or one of its <see cref="OptimizerDescriptor.Variants"/>,
/// named <paramref name="Optimizer"/>) with one implementation and the options that select it; <see cref="OptionsFor"/>
/// adds a parameter set's rank.
/// </summary>
public sealed record StepBenchCase(string Optimizer, OptimizerDescriptor Descriptor, string Implementation, OptimizerOptions Options, CatalogVariant? Variant = null)
{
    /// <summary>The implementation label of an optimizer with a single implementation (no <c>implementation</c> option).</summary>
    public const string Default = "default";

    /// <summary>The implementations a row can ask for, in the order the sweep measures them.</summary>
    public static IReadOnlyList<string> Implementations { get; } = [ImplementationChoice.TensorOps, StepImplementation.Batched, ImplementationChoice.CudaFused];

    /// <summary>Every row name the sweep knows: each catalog kind, then its variants.</summary>
    public static IReadOnlyList<string> OptimizerNames { get; } =
        OptimizerCatalog.All.SelectMany(d => d.Variants.Select(v => v.Name).Prepend(d.Kind)).ToList();

    /// <summary>
    /// The implementations an optimizer has: those of <see cref="Implementations"/> that its options record accepts
    /// (the options' own validation is the declaration), or <see cref="Default"/> when it has no <c>implementation</c> option.
    /// </summary>
    public static IReadOnlyList<string> ImplementationsOf(OptimizerDescriptor descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        return descriptor.HasImplementationChoice ? descriptor.AcceptedImplementations(Implementations) : [Default];
    }

    /// <summary>
    /// Every case of <paramref name="optimizers"/> (row names; all of <see cref="OptimizerNames"/> when null) whose
    /// implementation is one of <paramref name="implementations"/> (all when null); <see cref="Default"/> rows are always kept.
    /// </summary>
    public static IReadOnlyList<StepBenchCase> Expand(IReadOnlyCollection<string>? optimizers = null, IReadOnlyCollection<string>? implementations = null)
    {
        var cases = new List<StepBenchCase>();
        foreach (var d in OptimizerCatalog.All)
            foreach (var (name, variant) in d.Variants.Select(v => (v.Name, (CatalogVariant?)v)).Prepend((d.Kind, null)))
            {
                if (optimizers is not null && !optimizers.Contains(name)) continue;
                foreach (var impl in ImplementationsOf(d).Where(i => i == Default || implementations is null || implementations.Contains(i)))
                {
                    var options = impl == Default ? d.DefaultOptions() : d.DefaultOptionsWith(impl);
                    cases.Add(new(name, d, impl, variant?.Apply(options) ?? options, variant));
                }
            }
        return cases;
    }

    /// <summary>
    /// The options for <paramref name="set"/>: an optimizer with a <c>rank</c> option (the low-rank projections) takes the
    /// set's <see cref="ParameterSet.Rank"/>, then the variant applies (APOLLO-Mini keeps its rank 1).
    /// </summary>
    public OptimizerOptions OptionsFor(ParameterSet set)
    {
        ArgumentNullException.ThrowIfNull(set);
        var options = Implementation == Default ? Descriptor.DefaultOptions() : Descriptor.DefaultOptionsWith(Implementation);
        if (options.GetType().GetProperty("Rank") is { } rank && (rank.PropertyType == typeof(int) || rank.PropertyType == typeof(int?)))
            rank.SetValue(options, set.Rank);
        return Variant?.Apply(options) ?? options;
    }

    /// <summary>Timed steps are fewer for the tensor-ops paths that <see cref="CheckSettings.SlowTensorOps"/> marks slow.</summary>
    public bool Slow => Implementation == ImplementationChoice.TensorOps && Descriptor.Checks.SlowTensorOps;
}
