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

    /// <summary>
    /// What one step must move and compute (<see cref="Optimizers.StepCost"/>) for the parameters, the options and the
    /// measured state bytes (Gefen's state depends on the first gradient). Every catalog line sets it.
    /// </summary>
    public Func<IReadOnlyList<NamedParameter>, OptimizerOptions, long, StepCost>? StepCost { get; init; }

    /// <summary>
    /// The options with a projection refresh at every step (gap 1, no adaptive growth), so the step benchmark can time a
    /// refresh apart from the ordinary step; null when the optimizer has no refresh.
    /// </summary>
    public Func<OptimizerOptions, OptimizerOptions>? RefreshEachStep { get; init; }

    /// <summary>Named settings the step benchmark measures besides the defaults (<see cref="CatalogVariant"/>).</summary>
    public IReadOnlyList<CatalogVariant> Variants { get; init; } = [];

    /// <summary>This entry with <see cref="StepCost"/> (and <see cref="RefreshEachStep"/>) from formulas on the concrete options record.</summary>
    public OptimizerDescriptor WithStepCost<TOptions>(Func<IReadOnlyList<NamedParameter>, TOptions, long, StepCost> cost, Func<TOptions, TOptions>? refreshEachStep = null)
        where TOptions : OptimizerOptions =>
        this with
        {
            StepCost = (p, o, state) => cost(p, (TOptions)o, state),
            RefreshEachStep = refreshEachStep is null ? null : o => refreshEachStep((TOptions)o),
        };

    /// <summary>The options with every default, as a user who writes only <c>kind:</c> gets them.</summary>
    public OptimizerOptions DefaultOptions() => (OptimizerOptions)Activator.CreateInstance(OptionsType)!;

    /// <summary>True when the options record has an <c>implementation</c> choice.</summary>
    public bool HasImplementationChoice => OptionsType.GetProperty("Implementation") is { PropertyType: var t } && t == typeof(string);

    /// <summary>
    /// Those of <paramref name="candidates"/> that the options record accepts as its <c>implementation</c> (its own
    /// validation is the declaration), in the given order; empty without an implementation choice.
    /// </summary>
    public IReadOnlyList<string> AcceptedImplementations(IEnumerable<string> candidates) =>
        HasImplementationChoice
            ? candidates.Where(i => !DefaultOptionsWith(i).Validate().Any(p => p.Key == "implementation")).ToList()
            : [];

    /// <summary>The default options with <c>implementation</c> set to <paramref name="implementation"/> (a fresh record).</summary>
    public OptimizerOptions DefaultOptionsWith(string implementation)
    {
        if (!HasImplementationChoice) throw new InvalidOperationException($"{Kind} has no implementation choice");
        var options = DefaultOptions();
        // Init-only: set on the fresh instance, before anyone else sees it.
        OptionsType.GetProperty("Implementation")!.SetValue(options, implementation);
        return options;
    }
}
