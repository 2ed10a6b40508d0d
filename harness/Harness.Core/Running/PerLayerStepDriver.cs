using Harness.Core.Config;
using Harness.Experiments.Models;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Core.Running;

/// <summary>
/// <c>step_mode: per_layer</c>, GaLore's layer-wise update (Zhao et al., arXiv 2403.03507, reference code
/// jiaweizzhao/GaLore <c>torchrun_main.py</c>, <c>--optimizer galore_adamw8bit_per_layer</c>: one optimizer per
/// parameter, stepped in a post-accumulate-grad hook, and the gradient dropped): each routable linear weight is
/// stepped by the optimizer's per-parameter rule (<see cref="IPerParameterStep"/>) as soon as the backward has
/// formed its whole gradient, and that gradient is freed at once, so no two of these weight gradients are alive
/// together. Unlike FORGE (<see cref="ForgeStepDriver"/>) the whole gradient exists, so rules that need it
/// (GaLore's projection, SWAN's whitening) can run. The other parameters (embeddings, norms) keep their
/// <c>.grad</c> and are stepped after the backward, in parameter order.
/// </summary>
/// <remarks>
/// Equal to the standard step: the gradient is libtorch's own (<see cref="PerLayerLinearFunction"/> forms it with
/// libtorch's own products), and a per-parameter rule's
/// update does not depend on the order the parameters are stepped in (the conformance tests hold every optimizer
/// with <see cref="OptimizerTraits.PerParameterStep"/> to that). Where it cannot be equal it is refused:
/// global-norm clipping (<c>grad_clip &gt; 0</c>) needs every gradient before the first update. With gradient
/// accumulation the weights are stepped in the backward of the last micro-batch only, on the accumulated gradient
/// (the earlier micro-batches accumulate into <c>.grad</c> as in the standard step), which equals the standard
/// step; GaLore's reference instead steps in every micro-batch's backward (an update per micro-batch, a different
/// algorithm), and during the earlier micro-batches all the gradients are alive, as in the standard step.
/// </remarks>
public sealed class PerLayerStepDriver : IStepDriver, ILinearRoute, IDisposable
{
    private readonly IDeviceClock _clock;
    private readonly RoutedWeights<PerLayerWeight> _weights = new();

    /// <param name="clock">Times the step of the parameters stepped after the backward.</param>
    /// <param name="gradClip">Global-norm clip τ; must be 0 (refused otherwise: the weights move before the last gradient exists).</param>
    public PerLayerStepDriver(IDeviceClock clock, double gradClip)
    {
        ArgumentNullException.ThrowIfNull(clock);
        if (gradClip != 0)
            throw new NotSupportedException($"per_layer cannot clip the global gradient norm (grad_clip {gradClip}): each weight is updated "
                + "before the last gradient exists; set training.grad_clip: 0, or step_mode standard");
        _clock = clock;
    }

    /// <summary>The other parameters' gradients after a step (<c>training.grad_buffers</c>); per-layer weights never keep one.</summary>
    public GradBuffersMode GradBuffers { get; init; } = GradBuffersMode.Free;

    /// <summary>The weights stepped inside the backward, by name (for inspection: update counts).</summary>
    public IReadOnlyDictionary<string, PerLayerWeight> Weights => _weights.ByName;

    public Tensor TrainStep(IWorkload workload, IOptimizer optimizer, IReadOnlyList<Batch> microBatches, double learningRate, StepTimings timings)
    {
        ArgumentNullException.ThrowIfNull(workload);
        ArgumentNullException.ThrowIfNull(microBatches);
        ArgumentNullException.ThrowIfNull(timings);
        Bind(workload, optimizer);
        var routable = (IRoutableLinears)workload;
        Tensor total;
        routable.RouteLinears(this);
        try
        {
            total = _weights.Backward(workload, microBatches, learningRate);
        }
        finally
        {
            routable.RouteLinears(null);
            foreach (var w in _weights.ByName.Values)
            {
                w.LastMicroBatch = false;
                w.ReleaseReturned();
            }
        }
        // The per-layer weights were stepped inside the backward; this times only the remaining parameters.
        var start = _clock.Now();
        var perParameter = (IPerParameterStep)optimizer;
        foreach (var p in _weights.Others)
        {
            using var grad = p.Value.grad;
            if (grad is null) continue;
            perParameter.StepParameter(p, grad, learningRate);
        }
        timings.OptimizerSeconds = _clock.Now() - start;
        GradientBuffers.Clear(workload, optimizer, GradBuffers);
        BackwardWrappers.Collect(_weights.ByName.Values.FirstOrDefault()?.Weight.Value.device_type);
        return total;
    }

    public Tensor Linear(Tensor input, Tensor weight, string weightName) => _weights.Linear(input, weight, weightName);

    private void Bind(IWorkload workload, IOptimizer optimizer) =>
        _weights.Bind(workload, optimizer, "per_layer", o => o is IPerParameterStep perParameter
            ? (p, _) => new PerLayerWeight(p, perParameter)
            : throw new NotSupportedException($"{o.GetType().Name} has no per-parameter step, which per_layer needs"));

    public void Dispose() => _weights.Dispose();
}
