using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Experiments.Workloads;

/// <summary>Which split a batch is drawn from.</summary>
public enum Split { Train, Validation }

/// <summary>
/// A model + data + loss + evaluation, kept apart from the optimizer (as AlgoPerf does): the harness
/// owns the clock and the optimizer; the workload owns everything about the task.
/// </summary>
public interface IWorkload : IDisposable
{
    /// <summary>Every trainable parameter, with its stable name and role.</summary>
    IReadOnlyList<NamedParameter> Parameters { get; }

    /// <summary>The throughput denominator: tokens per batch (samples for image tasks).</summary>
    long TokensPerBatch { get; }

    /// <summary>What <see cref="TokensPerBatch"/> counts: "tokens" or "samples".</summary>
    string ThroughputUnit { get; }

    /// <summary>The next batch of a split; the sequence is deterministic given the workload's seed.</summary>
    Batch NextBatch(Split split);

    /// <summary>Forward pass and mean loss of a batch (a scalar tensor with a graph).</summary>
    Tensor Loss(Batch batch);

    /// <summary>
    /// Loss (and perplexity or accuracy) over <paramref name="batches"/> fixed validation batches: the same
    /// batches at every call, so evaluations are comparable along a run and across optimizers.
    /// </summary>
    EvalResult Evaluate(int batches);

    /// <summary>
    /// Everything besides the parameters that decides the batches still to come (generator states, data
    /// positions), as named CPU tensors the caller owns, so a checkpoint can resume the exact sequence.
    /// </summary>
    IReadOnlyDictionary<string, Tensor> SaveState();

    /// <summary>Restores what <see cref="SaveState"/> returned; throws <see cref="ArgumentException"/> when it does not fit.</summary>
    void LoadState(IReadOnlyDictionary<string, Tensor> state);
}

/// <summary>Inputs and targets of one batch. Disposing it frees both tensors.</summary>
public sealed record Batch(Tensor Inputs, Tensor Targets) : IDisposable
{
    public void Dispose()
    {
        Inputs.Dispose();
        Targets.Dispose();
    }
}

/// <summary>An evaluation: mean loss, and perplexity (language models) or accuracy (classifiers).</summary>
public sealed record EvalResult(double Loss, double? Perplexity, double? Accuracy);
