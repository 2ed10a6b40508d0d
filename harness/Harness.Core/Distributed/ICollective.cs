using static TorchSharp.torch;

namespace Harness.Core.Distributed;

/// <summary>
/// The collectives data-parallel training needs, between the <see cref="WorldSize"/> ranks of one run (modelled on
/// <c>torch.distributed</c>'s process group). Every rank calls the same operations in the same order with tensors of the
/// same size; each call blocks until all ranks have joined it and throws <see cref="CollectiveException"/> when one
/// does not join within the timeout or another rank has failed, so a failed rank never leaves the others hanging.
/// Tensors are contiguous and live on the rank's device; the operations work in place.
/// </summary>
public interface ICollective : IDisposable
{
    int Rank { get; }
    int WorldSize { get; }

    /// <summary>How long a rank waits for the others in one operation before the run fails.</summary>
    TimeSpan Timeout { get; }

    /// <summary>Replaces <paramref name="buffer"/> on every rank with the element-wise sum (or mean) over the ranks.</summary>
    void AllReduce(Tensor buffer, ReduceOp op);

    /// <summary>Fills <paramref name="output"/> (WorldSize × input.numel() elements) with every rank's <paramref name="input"/>, rank 0 first.</summary>
    void AllGather(Tensor input, Tensor output);

    /// <summary>Copies rank <paramref name="root"/>'s <paramref name="buffer"/> into every other rank's.</summary>
    void Broadcast(Tensor buffer, int root);

    /// <summary>Returns once every rank has called it.</summary>
    void Barrier();

    /// <summary>
    /// Marks this rank failed so that every rank blocked in (or entering) an operation throws at once instead of waiting
    /// for the timeout. Called by the rank driver when a rank's own code throws.
    /// </summary>
    void Abort(string reason);
}
