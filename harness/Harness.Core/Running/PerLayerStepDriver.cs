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
    private readonly Dictionary<string, PerLayerWeight> _weights = new(StringComparer.Ordinal);
    private List<NamedParameter> _others = [];
    private IOptimizer? _boundTo;

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
    public IReadOnlyDictionary<string, PerLayerWeight> Weights => _weights;

    public Tensor TrainStep(IWorkload workload, IOptimizer optimizer, IReadOnlyList<Batch> microBatches, double learningRate, StepTimings timings)
    {
        ArgumentNullException.ThrowIfNull(workload);
        ArgumentNullException.ThrowIfNull(microBatches);
        ArgumentNullException.ThrowIfNull(timings);
        Bind(workload, optimizer);
        var routable = (IRoutableLinears)workload;
        Tensor? total = null;
        routable.RouteLinears(this);
        try
        {
            using var divisor = (TorchSharp.Scalar)(double)microBatches.Count;  // alive through every div (see StandardStepDriver)
            for (var k = 0; k < microBatches.Count; k++)
            {
                foreach (var w in _weights.Values)
                {
                    w.LearningRate = learningRate;
                    w.LastMicroBatch = k == microBatches.Count - 1;
                }
                var loss = workload.Loss(microBatches[k]);
                var scaled = microBatches.Count == 1 ? loss : loss.div(divisor);
                scaled.backward();
                RethrowFailure();
                var detached = scaled.detach();
                total = total is null ? detached : total + detached;
            }
        }
        finally
        {
            routable.RouteLinears(null);
            foreach (var w in _weights.Values)
            {
                w.LastMicroBatch = false;
                w.ReleaseReturned();
            }
        }
        // The per-layer weights were stepped inside the backward; this times only the remaining parameters.
        var start = _clock.Now();
        var perParameter = (IPerParameterStep)optimizer;
        foreach (var p in _others)
        {
            using var grad = p.Value.grad;
            if (grad is null) continue;
            perParameter.StepParameter(p, grad, learningRate);
        }
        timings.OptimizerSeconds = _clock.Now() - start;
        GradientBuffers.Clear(workload, optimizer, GradBuffers);
        BackwardWrappers.Collect(_weights.Values.FirstOrDefault()?.Weight.Value.device_type);
        return total!;
    }

    private void RethrowFailure()
    {
        foreach (var w in _weights.Values)
        {
            if (w.Failure is not { } failure) continue;
            w.Failure = null;
            failure.Throw();
        }
    }

    public Tensor Linear(Tensor input, Tensor weight, string weightName) =>
        _weights.TryGetValue(weightName, out var w)
            ? w.Forward(input, weight)
            : nn.functional.linear(input, weight);

    private void Bind(IWorkload workload, IOptimizer optimizer)
    {
        if (ReferenceEquals(_boundTo, optimizer)) return;
        if (workload is not IRoutableLinears routable || routable.RoutableWeights.Count == 0)
            throw new NotSupportedException($"{workload.GetType().Name} has no routable linear layers, which per_layer needs");
        if (optimizer is not IPerParameterStep perParameter)
            throw new NotSupportedException($"{optimizer.GetType().Name} has no per-parameter step, which per_layer needs");
        foreach (var w in _weights.Values) w.Dispose();
        _weights.Clear();
        var routed = routable.RoutableWeights.ToHashSet(StringComparer.Ordinal);
        foreach (var p in workload.Parameters.Where(p => routed.Contains(p.Name)))
            _weights[p.Name] = new PerLayerWeight(p, perParameter);
        _others = workload.Parameters.Where(p => !routed.Contains(p.Name)).ToList();
        _boundTo = optimizer;
    }

    public void Dispose()
    {
        foreach (var w in _weights.Values) w.Dispose();
        _weights.Clear();
    }
}
