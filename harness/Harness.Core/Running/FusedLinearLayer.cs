using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Core.Running;

/// <summary>
/// The FORGE side of one linear weight: turns (input, output gradient) into weight-gradient row slabs that
/// the optimizer consumes one at a time. On a micro-batch that is not the last of the step it adds the
/// gradient to an fp32 pending buffer instead (as FORGE does), and the last micro-batch steps on
/// buffer + its own gradient, which is the standard driver's accumulated <c>.grad</c>.
/// </summary>
public sealed class FusedLinearLayer(NamedParameter weight, ISlabStep optimizer, long slabRows) : IDisposable
{
    private Tensor? _pending;

    public NamedParameter Weight { get; } = weight;

    /// <summary>Learning rate of the current step (set by the driver before the forward).</summary>
    public double LearningRate { get; set; }

    /// <summary>Whether this backward is the last micro-batch of the step (the one that updates).</summary>
    public bool LastMicroBatch { get; set; } = true;

    /// <summary>Largest weight-gradient tensor this layer allocated, in elements (slabs, or the pending buffer).</summary>
    public long LargestGradientElements { get; private set; }

    /// <summary>Optimizer updates applied (one per step, whatever the slab count).</summary>
    public int Updates { get; private set; }

    /// <summary>
    /// Input gradients this layer's backward returned. TorchSharp hands libtorch a copy of each and never
    /// frees its own wrapper, which on CUDA (where the backward runs on libtorch's device thread, outside any
    /// dispose scope) would keep the tensor alive until a garbage collection. They are freed at this
    /// layer's next backward or by the driver at the end of the step, once libtorch holds its copy.
    /// </summary>
    internal List<Tensor> Returned { get; } = [];

    /// <summary>Frees the wrappers kept by <see cref="Returned"/>.</summary>
    internal void ReleaseReturned()
    {
        foreach (var t in Returned) t.Dispose();
        Returned.Clear();
    }

    /// <summary>The first error raised inside a backward, for the driver to rethrow after it.</summary>
    internal System.Runtime.ExceptionServices.ExceptionDispatchInfo? Failure { get; set; }

    internal void ConsumeCapturingErrors(Tensor input, Tensor gradOutput)
    {
        if (Failure is not null) return;
        try
        {
            Consume(input, gradOutput);
        }
        catch (Exception e)
        {
            Failure = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e);
        }
    }

    private void Consume(Tensor input, Tensor gradOutput)
    {
        using var noGrad = no_grad();
        using var existing = Weight.Value.grad;
        if (existing is not null)
            throw new InvalidOperationException(
                $"fused weight '{Weight.Name}' has a materialised .grad: it has another gradient consumer (tied weights?) and cannot be fused");
        var (rows, cols) = (Weight.Value.shape[0], Weight.Value.shape[1]);
        var x = input.reshape(-1, cols);
        var dy = gradOutput.reshape(-1, rows);
        if (!LastMicroBatch)
        {
            if (_pending is null)
            {
                _pending = zeros(rows, cols, ScalarType.Float32, Weight.Value.device).DetachFromDisposeScope();
                Note(_pending.numel());
            }
            foreach (var (start, grad) in Slabs(x, dy, rows))
                using (grad) _pending.narrow(0, start, grad.shape[0]).add_(grad);
            return;
        }
        optimizer.StepSlabs(Weight, Slabs(x, dy, rows), LearningRate);
        Updates++;
        _pending?.Dispose();
        _pending = null;
    }

    private IEnumerable<GradientSlab> Slabs(Tensor x, Tensor dy, long rows)
    {
        for (long start = 0; start < rows; start += slabRows)
        {
            var count = Math.Min(slabRows, rows - start);
            var grad = dy.narrow(1, start, count).t().mm(x);
            if (grad.dtype != Weight.Value.dtype) grad = grad.to_type(Weight.Value.dtype);
            if (_pending is not null) grad = _pending.narrow(0, start, count) + grad;
            Note(grad.numel());
            yield return new GradientSlab(start, grad);
        }
    }

    private void Note(long elements) => LargestGradientElements = Math.Max(LargestGradientElements, elements);

    public void Dispose()
    {
        ReleaseReturned();
        _pending?.Dispose();
        _pending = null;
    }
}
