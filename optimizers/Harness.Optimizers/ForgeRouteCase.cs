namespace Harness.Optimizers;

/// <summary>One FORGE route-equivalence case of an optimizer: micro-batches, slab rows and the two-pass clip τ (0 for none).</summary>
public sealed record ForgeRouteCase(int MicroBatches, long SlabRows, double Clip);
