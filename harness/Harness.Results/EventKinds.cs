namespace Harness.Results;

/// <summary>The kinds of <see cref="EventRecord"/>.</summary>
public static class EventKinds
{
    /// <summary>A training loss above <c>spike_factor</c> × the median of the previous logged training losses.</summary>
    public const string TrainSpike = "train_spike";
    /// <summary>A training loss above <c>divergence_factor</c> × the initial evaluation loss.</summary>
    public const string TrainAboveLimit = "train_above_limit";
    /// <summary>An evaluation loss above <c>divergence_factor</c> × the initial evaluation loss.</summary>
    public const string EvalAboveLimit = "eval_above_limit";
    /// <summary>The read that ended the run as diverged (its detail is the run's message).</summary>
    public const string Diverged = "diverged";

    /// <summary>The kinds counted in the summary's <c>loss_spikes</c>.</summary>
    public static bool IsSpike(string kind) => kind is TrainSpike or TrainAboveLimit or EvalAboveLimit;

    /// <summary><see cref="EventRecord.Loss"/> of a training-loss read.</summary>
    public const string TrainLoss = "train";
    /// <summary><see cref="EventRecord.Loss"/> of an evaluation-loss read.</summary>
    public const string EvalLoss = "eval";
}
