using Harness.Optimizers;

namespace Harness.Core.Config;

/// <summary>The <c>training:</c> section.</summary>
public sealed record TrainingConfig : IValidatable
{
    public int Steps { get; init; } = 200;
    public int BatchSize { get; init; } = 16;
    public int GradAccumulation { get; init; } = 1;
    public TrainingDType Dtype { get; init; } = TrainingDType.Float32;
    /// <summary>Global gradient-norm clip; 0 turns it off.</summary>
    public double GradClip { get; init; }
    /// <summary>
    /// step_mode fused_backward only: output rows per weight-gradient slab (default 64). Left out of the run
    /// spec when unset, so adding the key kept existing run ids.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public int? FusedSlabRows { get; init; }
    /// <summary>
    /// step_mode fused_backward only: how grad_clip is applied (<c>none</c>, the default, refuses grad_clip &gt; 0;
    /// <c>two_pass</c> clips exactly at the cost of a second forward and backward per step). Left out of the
    /// run spec when unset, so adding the key kept existing run ids.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public FusedClipMode? FusedClip { get; init; }
    /// <summary>
    /// step_mode fused_backward only: <c>auto</c> (the default: the tile-fused kernel where available, else slabs),
    /// <c>tile</c> (the tile-fused kernel, or the run fails) or <c>slabs</c>. An optimizer entry's
    /// <c>forge_kernel:</c> overrides it for that entry. Left out of the run spec when unset, so adding the key kept
    /// existing run ids.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public ForgeKernelMode? ForgeKernel { get; init; }
    /// <summary>
    /// step_mode fused_backward only: FORGE's state for the fused weights, <c>fp32</c> | <c>bf16</c> | <c>int8</c>
    /// (<see cref="ForgeStateKind"/>); unset keeps the optimizer's own state. An optimizer entry's <c>forge_state:</c>
    /// overrides it. Left out of the run spec when unset, so adding the key kept existing run ids.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public ForgeStateKind? ForgeState { get; init; }
    /// <summary>
    /// Gradients after each step: <c>free</c> (the default, set to none) or <c>keep</c> (zeroed in place, buffers held
    /// for the whole step). Changes memory only, not a number. Left out of the run spec when unset, so adding the
    /// key kept existing run ids.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public GradBuffersMode? GradBuffers { get; init; }
    /// <summary>
    /// Each decoder layer recomputes its forward in the backward instead of keeping its activations (llama workload).
    /// Changes memory and time only, not a number. Left out of the run spec when unset, so adding the key kept
    /// existing run ids.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public bool? ActivationCheckpointing { get; init; }
    public int LogEvery { get; init; } = 10;
    /// <summary>Evaluate every N steps (and always after the last step); 0 = only at the end.</summary>
    public int EvalEvery { get; init; } = 50;
    public int EvalBatches { get; init; } = 8;
    /// <summary>Steps excluded from throughput and step-time statistics.</summary>
    public int TimingWarmupSteps { get; init; } = 5;
    /// <summary>
    /// The limit L = this multiple of the initial evaluation loss (0 = off; NaN/Inf always diverge). Every loss read
    /// above L (training or evaluation) is an event in <c>events.csv</c>; <see cref="DivergencePatience"/> consecutive
    /// reads above L, or a final evaluation above L, end the run as <c>diverged</c> (see <c>LossMonitor</c>). A model
    /// that learns never gets near 4x its untrained loss; one that blows up passes it within a few steps.
    /// </summary>
    public double DivergenceFactor { get; init; } = 4.0;
    /// <summary>
    /// A logged training loss above this multiple of the median of the previous 10 logged ones is a <c>train_spike</c>
    /// event (0 = off; default 3). Left out of the run spec when unset, so adding the key kept existing run ids.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public double? SpikeFactor { get; init; }
    /// <summary>
    /// Consecutive loss reads above the divergence limit that end the run as <c>diverged</c> (default 3; 1 = the first
    /// such read). Left out of the run spec when unset, so adding the key kept existing run ids.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public int? DivergencePatience { get; init; }
    /// <summary>
    /// Measure |Δp| / lr on logged steps (<c>updates.csv</c>, <c>max_update_ratio</c>; default on). It costs one copy of the
    /// parameters in host memory per logged step; off for models whose copy the host cannot hold. Left out of the run
    /// spec: it cannot change a number.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool UpdateTelemetry { get; init; } = true;
    public const double DefaultSpikeFactor = 3.0;
    public const int DefaultDivergencePatience = 3;
    /// <summary>Write a resumable checkpoint every N steps; 0 = never.</summary>
    /// <remarks>Left out of the run spec (and so of the run id): it cannot change a number, and turning it on
    /// for a rerun must still find the runs already done.</remarks>
    [System.Text.Json.Serialization.JsonIgnore]
    public int CheckpointEvery { get; init; }

    public IEnumerable<OptionProblem> Validate()
    {
        if (Steps < 1) yield return new("steps", $"must be >= 1 (got {Steps})");
        if (BatchSize < 1) yield return new("batch_size", $"must be >= 1 (got {BatchSize})");
        if (GradAccumulation < 1) yield return new("grad_accumulation", $"must be >= 1 (got {GradAccumulation})");
        if (!(GradClip >= 0)) yield return new("grad_clip", $"must be >= 0, 0 turns clipping off (got {GradClip:R})");
        if (FusedSlabRows is < 1) yield return new("fused_slab_rows", $"must be >= 1 (got {FusedSlabRows})");
        if (LogEvery < 1) yield return new("log_every", $"must be >= 1 (got {LogEvery})");
        if (EvalEvery < 0) yield return new("eval_every", $"must be >= 0, 0 evaluates only at the end (got {EvalEvery})");
        if (EvalBatches < 1) yield return new("eval_batches", $"must be >= 1 (got {EvalBatches})");
        if (TimingWarmupSteps < 0) yield return new("timing_warmup_steps", $"must be >= 0 (got {TimingWarmupSteps})");
        else if (Steps >= 1 && TimingWarmupSteps >= Steps)
            yield return new("timing_warmup_steps", $"must be < steps ({Steps}) so that some steps are timed (got {TimingWarmupSteps})");
        if (!(DivergenceFactor == 0 || (DivergenceFactor > 1 && double.IsFinite(DivergenceFactor))))
            yield return new("divergence_factor", $"must be 0 (off) or a finite number > 1 (got {DivergenceFactor:R})");
        if (SpikeFactor is { } k && !(k == 0 || (k > 1 && double.IsFinite(k))))
            yield return new("spike_factor", $"must be 0 (off) or a finite number > 1 (got {k:R})");
        if (DivergencePatience is < 1) yield return new("divergence_patience", $"must be >= 1 (got {DivergencePatience})");
        if (CheckpointEvery < 0) yield return new("checkpoint_every", $"must be >= 0, 0 turns checkpoints off (got {CheckpointEvery})");
    }
}
