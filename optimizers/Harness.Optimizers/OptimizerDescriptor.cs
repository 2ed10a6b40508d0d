namespace Harness.Optimizers;

/// <summary>
/// One catalog entry: the YAML <c>kind</c>, the options record type the config binds to, the traits,
/// a one-line summary for <c>harness list</c>, the closed-form state size, and the factory.
/// </summary>
public sealed record OptimizerDescriptor(
    string Kind,
    Type OptionsType,
    OptimizerTraits Traits,
    string Summary,
    Func<IReadOnlyList<NamedParameter>, OptimizerOptions, long> ExpectedStateBytes,
    Func<IReadOnlyList<NamedParameter>, OptimizerOptions, IOptimizer> Create)
{
    /// <summary>A typed entry: the factory and formula receive the concrete options record.</summary>
    public static OptimizerDescriptor Of<TOptions>(
        string kind, OptimizerTraits traits, string summary,
        Func<IReadOnlyList<NamedParameter>, TOptions, long> expectedStateBytes,
        Func<IReadOnlyList<NamedParameter>, TOptions, IOptimizer> create)
        where TOptions : OptimizerOptions, new() =>
        new(kind, typeof(TOptions), traits, summary,
            (p, o) => expectedStateBytes(p, (TOptions)o),
            (p, o) => create(p, (TOptions)o));

    /// <summary>How ZeRO-1 may split this optimizer's state across data-parallel ranks (<see cref="ShardGranularity"/>).</summary>
    public ShardGranularity Sharding { get; init; } = ShardGranularity.WholeTensor;

    /// <summary>
    /// Set where <see cref="ExpectedStateBytes"/> needs data, not only shapes (Gefen's periods come from the first
    /// gradient): the closed-form range over every possible gradient, from the parameters' shapes, dtypes and roles
    /// alone. The memory planner reports it labelled as a bound.
    /// </summary>
    public Func<IReadOnlyList<NamedParameter>, OptimizerOptions, StateBytesRange>? StateBytesBounds { get; init; }

    /// <summary>This entry with <see cref="StateBytesBounds"/> set from a formula that receives the concrete options record.</summary>
    public OptimizerDescriptor WithStateBytesBounds<TOptions>(Func<IReadOnlyList<NamedParameter>, TOptions, StateBytesRange> bounds)
        where TOptions : OptimizerOptions =>
        this with { StateBytesBounds = (p, o) => bounds(p, (TOptions)o) };

    /// <summary>What the GPU equivalence checks and the step benchmark need for this optimizer (<see cref="CheckSettings"/>).</summary>
    public CheckSettings Checks { get; init; } = CheckSettings.None;

    /// <summary>The options with every default, as a user who writes only <c>kind:</c> gets them.</summary>
    public OptimizerOptions DefaultOptions() => (OptimizerOptions)Activator.CreateInstance(OptionsType)!;
}
