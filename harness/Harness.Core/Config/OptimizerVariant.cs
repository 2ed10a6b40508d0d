using Harness.Optimizers;

namespace Harness.Core.Config;

/// <summary>
/// One optimizer configuration to run: an <c>optimizers:</c> entry, or one point of its <c>sweep:</c>
/// (the cartesian product is expanded when the config is loaded, so every point is validated up front).
/// </summary>
/// <param name="Kind">The catalog kind.</param>
/// <param name="Label">The legend label: the entry's <c>label:</c> (or kind) plus the sweep values.</param>
/// <param name="Options">The fully bound options of this point.</param>
/// <param name="SweepValues">The swept keys and their values at this point, in sweep order.</param>
/// <param name="EntryIndex">Index of the <c>optimizers:</c> entry it came from.</param>
public sealed record OptimizerVariant(
    string Kind,
    string Label,
    OptimizerOptions Options,
    IReadOnlyList<KeyValuePair<string, string>> SweepValues,
    int EntryIndex)
{
    /// <summary>This entry's own <c>step_mode:</c>, overriding the experiment's (e.g. FORGE beside standard AdamW).</summary>
    public StepMode? StepMode { get; init; }

    /// <summary>The step mode this configuration runs with.</summary>
    public StepMode EffectiveStepMode(StepMode experiment) => StepMode ?? experiment;

    /// <summary>This entry's own <c>forge_kernel:</c>, overriding <c>training.forge_kernel</c> (e.g. FORGE tile beside FORGE slabs).</summary>
    public ForgeKernelMode? ForgeKernel { get; init; }

    /// <summary>This entry's own <c>forge_state:</c>, overriding <c>training.forge_state</c> (e.g. FORGE bf16 beside FORGE fp32).</summary>
    public ForgeStateKind? ForgeState { get; init; }

    /// <summary>The training settings this configuration runs with: the experiment's, with this entry's <c>forge_kernel</c> and <c>forge_state</c>.</summary>
    public TrainingConfig EffectiveTraining(TrainingConfig experiment)
    {
        var training = ForgeKernel is { } kernel ? experiment with { ForgeKernel = kernel } : experiment;
        return ForgeState is { } state ? training with { ForgeState = state } : training;
    }
}
