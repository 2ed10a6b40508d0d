using Harness.Core.Config;

namespace Harness.Core.Planning;

/// <summary>One run of the plan: an optimizer configuration at one seed, or a skip with its reason.</summary>
public sealed record PlannedRun(string RunId, RunSpec Spec, OptimizerVariant Variant, int Seed, string? SkipReason)
{
    public bool Skipped => SkipReason is not null;
}
