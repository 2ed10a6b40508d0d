namespace Harness.Optimizers;

/// <summary>
/// A named setting of a catalog optimizer that the step benchmark measures as its own row (APOLLO-Mini is APOLLO with
/// <c>variant: mini</c>): <paramref name="Apply"/> turns the default options into the variant's.
/// </summary>
public sealed record CatalogVariant(string Name, Func<OptimizerOptions, OptimizerOptions> Apply);
