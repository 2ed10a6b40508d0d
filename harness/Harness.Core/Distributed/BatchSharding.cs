using Harness.Experiments.Workloads;

namespace Harness.Core.Distributed;

/// <summary>
/// Each rank's share of a global batch: every rank draws the same global batch from the same seeded stream and keeps
/// rows [rank·B/N, (rank+1)·B/N). With a mean loss over equal shares, the mean of the ranks' gradients is the gradient
/// of the global batch, so N ranks train as one device does at the same global batch. Every rank reading the whole
/// batch costs only token ids; it keeps the data order independent of the world size.
/// </summary>
public static class BatchSharding
{
    /// <summary>The rows of <paramref name="batch"/> that <paramref name="rank"/> trains on (views; disposing them leaves the batch intact).</summary>
    public static Batch Slice(Batch batch, int rank, int worldSize)
    {
        var rows = batch.Inputs.shape[0];
        if (rows % worldSize != 0)
            throw new ArgumentException($"a global batch of {rows} rows does not split evenly over {worldSize} ranks");
        var share = rows / worldSize;
        return new Batch(batch.Inputs.narrow(0, rank * share, share), batch.Targets.narrow(0, rank * share, share));
    }

    /// <summary>The per-rank batch size for a global batch size, or a one-line problem.</summary>
    public static string? Problem(int globalBatch, int worldSize) =>
        globalBatch % worldSize == 0 ? null : $"batch_size {globalBatch} is not a multiple of devices {worldSize} (each rank trains on an equal share)";
}
