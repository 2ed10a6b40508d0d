namespace Harness.Core.Config;

/// <summary>How a training step is executed (<c>step_mode:</c>).</summary>
public enum StepMode
{
    /// <summary>forward, backward, then the optimizer step over all gradients.</summary>
    Standard,
    /// <summary>FORGE: each linear weight is updated as soon as its gradient slab exists (issue 5).</summary>
    FusedBackward,
}

/// <summary>Training precision (<c>training.dtype:</c>).</summary>
public enum TrainingDType
{
    /// <summary>fp32 parameters, activations and optimizer state.</summary>
    Float32,
    /// <summary>pure bf16 parameters and activations, no master weights (as the GaLore paper's runs).</summary>
    Bfloat16,
    /// <summary>bf16 compute with fp32 master weights.</summary>
    Mixed,
}

/// <summary>Learning-rate schedule shape (<c>schedule.kind:</c>).</summary>
public enum ScheduleKind { Constant, Linear, Cosine }
