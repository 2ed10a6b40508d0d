namespace Harness.Results;

/// <summary>The names of the metrics in <c>metrics.csv</c> (the architecture's measurement table).</summary>
public static class MetricNames
{
    public const string StepsDone = "steps_done";
    public const string ParamCount = "param_count";
    public const string FinalTrainLoss = "final_train_loss";
    public const string InitialEvalLoss = "initial_eval_loss";
    public const string FinalEvalLoss = "final_eval_loss";
    public const string FinalEvalPerplexity = "final_eval_perplexity";
    public const string FinalEvalAccuracy = "final_eval_accuracy";
    /// <summary>M1: persistent optimizer state.</summary>
    public const string StateBytes = "state_bytes";
    /// <summary>The closed-form state size from the catalog, next to the measured one.</summary>
    public const string ExpectedStateBytes = "expected_state_bytes";
    /// <summary>Bytes of the stored model weights after the run, exact from the tensors (numel × element size).</summary>
    public const string WeightBytes = "weight_bytes";
    /// <summary>M2: allocator peak during the optimizer step minus what was allocated before it.</summary>
    public const string StepTransientBytes = "step_transient_bytes";
    /// <summary>M3: allocator peak over a whole training step.</summary>
    public const string TrainStepPeakBytes = "train_step_peak_bytes";
    /// <summary>M4: what the caching allocator holds.</summary>
    public const string ReservedBytes = "reserved_bytes";
    /// <summary>M2 of the first step, which creates the optimizer state.</summary>
    public const string FirstStepTransientBytes = "first_step_transient_bytes";
    public const string TokensPerS = "tokens_per_s";
    public const string StepMsP50 = "step_ms_p50";
    public const string StepMsP90 = "step_ms_p90";
    public const string FirstStepMs = "first_step_ms";
    public const string OptimizerStepMsP50 = "optimizer_step_ms_p50";
    public const string EvalSeconds = "eval_s";
    public const string TrainSeconds = "train_s";
    /// <summary>The run's largest |Δp| / lr over the logged steps and every role (<c>updates.csv</c>).</summary>
    public const string MaxUpdateRatio = "max_update_ratio";
    /// <summary>Loss spikes recorded in <c>events.csv</c> (train spikes and reads above the divergence limit).</summary>
    public const string LossSpikes = "loss_spikes";
}
