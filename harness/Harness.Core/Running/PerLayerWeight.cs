using System.Runtime.ExceptionServices;
using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Core.Running;

/// <summary>
/// One weight under <c>step_mode: per_layer</c>: its forward goes through <see cref="PerLayerWeightFunction"/>, and
/// the weight's whole gradient, once the backward has formed it, is consumed here. On a micro-batch that is not the
/// last of the step the gradient is returned, to accumulate into <c>.grad</c> as in the standard step; on the last
/// one the accumulated <c>.grad</c> (if any) plus this gradient, the standard step's gradient bit for bit, is
/// stepped at once by the optimizer's per-parameter rule and freed, and no gradient reaches <c>.grad</c>.
/// </summary>
public sealed class PerLayerWeight(NamedParameter weight, IPerParameterStep optimizer)
{
    public NamedParameter Weight { get; } = weight ?? throw new ArgumentNullException(nameof(weight));

    /// <summary>The scheduled learning rate of the step in progress.</summary>
    public double LearningRate { get; set; }

    /// <summary>True while the backward of the step's last micro-batch runs (the weight is stepped in it).</summary>
    public bool LastMicroBatch { get; set; }

    /// <summary>Steps taken inside the backward (one per training step).</summary>
    public long Updates { get; private set; }

    /// <summary>A failure of the step inside the backward, rethrown by the driver once <c>backward()</c> returned.</summary>
    internal ExceptionDispatchInfo? Failure { get; set; }

    /// <summary><paramref name="weightView"/> (the training forward's view of the weight) routed through <see cref="PerLayerWeightFunction"/>.</summary>
    public Tensor Forward(Tensor weightView) => PerLayerWeightFunction.apply(weightView, this);

    /// <summary>The weight gradient to hand on to <c>.grad</c> (earlier micro-batches), or null once the weight was stepped.</summary>
    internal Tensor? ConsumeCapturingErrors(Tensor grad)
    {
        if (!LastMicroBatch || Failure is not null) return grad;
        try
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var parameter = Weight.Value;
            // AccumulateGrad adds each new gradient to .grad in place: pending + grad, in that order.
            var pending = parameter.grad;
            var whole = grad;
            if (pending is not null)
            {
                parameter.grad = null;
                whole = pending.add_(grad);
            }
            optimizer.StepParameter(Weight, whole, LearningRate);
            Updates++;
        }
        catch (Exception e)
        {
            Failure = ExceptionDispatchInfo.Capture(e);
        }
        // TorchSharp wraps each incoming gradient in a fresh Tensor it never disposes: free ours now.
        grad.Dispose();
        return null;
    }
}
