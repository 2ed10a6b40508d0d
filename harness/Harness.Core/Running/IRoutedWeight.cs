using System.Runtime.ExceptionServices;
using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Core.Running;

/// <summary>
/// A linear weight whose layer a step driver routes (<see cref="ForgeLinearLayer"/> for FORGE, <see cref="PerLayerWeight"/>
/// for per-layer updates): its forward runs through the driver's autograd function, whose backward steps the weight.
/// </summary>
internal interface IRoutedWeight : IDisposable
{
    NamedParameter Weight { get; }

    /// <summary>The scheduled learning rate of the step in progress.</summary>
    double LearningRate { set; }

    /// <summary>True while the backward of the step's last micro-batch runs.</summary>
    bool LastMicroBatch { set; }

    /// <summary>A failure of the step inside the backward, rethrown once <c>backward()</c> returned.</summary>
    ExceptionDispatchInfo? Failure { get; set; }

    /// <summary><c>input·weightᵀ</c> through the driver's function.</summary>
    Tensor Forward(Tensor input, Tensor weight);

    /// <summary>Frees the wrappers of the gradients the last backward returned.</summary>
    void ReleaseReturned();
}
