using System.Runtime.ExceptionServices;
using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Core.Running;

/// <summary>
/// One linear weight under <c>step_mode: per_layer</c>: its layer's forward goes through <see cref="PerLayerLinearFunction"/>,
/// and the weight's whole gradient, once that backward has formed it, is consumed here. On a micro-batch that is not the
/// last of the step the gradient is returned, to accumulate into <c>.grad</c> as in the standard step; on the last
/// one the accumulated <c>.grad</c> (if any) plus this gradient, the standard step's gradient bit for bit, is
/// stepped at once by the optimizer's per-parameter rule and freed, and no gradient reaches <c>.grad</c>.
/// </summary>
public sealed class PerLayerWeight(NamedParameter weight, IPerParameterStep optimizer) : IRoutedWeight
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

    /// <summary><c>input·weightᵀ</c> through <see cref="PerLayerLinearFunction"/>.</summary>
    public Tensor Forward(Tensor input, Tensor weight) => PerLayerLinearFunction.apply(input, weight, this);

    /// <summary>
    /// The gradients the last backward returned to libtorch (which holds its own references): our wrappers are freed at
    /// this layer's next backward or after the step (<see cref="ReleaseReturned"/>).
    /// </summary>
    internal List<Tensor> Returned { get; } = [];

    /// <summary>Frees the wrappers of the gradients returned by the last backward.</summary>
    public void ReleaseReturned()
    {
        foreach (var t in Returned) t.Dispose();
        Returned.Clear();
    }

    public void Dispose() => ReleaseReturned();

    /// <summary>
    /// The weight gradient to hand on to <c>.grad</c> (earlier micro-batches), or null once the weight was stepped (and
    /// <paramref name="grad"/> freed).
    /// </summary>
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
        grad.Dispose();
        return null;
    }

    System.Runtime.ExceptionServices.ExceptionDispatchInfo? IRoutedWeight.Failure { get => Failure; set => Failure = value; }
}
