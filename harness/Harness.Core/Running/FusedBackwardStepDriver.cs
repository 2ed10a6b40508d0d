using Harness.Experiments.Models;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Core.Running;

/// <summary>
/// FORGE (<c>step_mode: fused_backward</c>; Kukreja et al., arXiv 2606.22932, reference code dk4248/FORGE
/// <c>src/fused_grad_optimizer/autograd.py</c> @ 7cba611), the layer-wise CPU form: the workload's linear
/// layers run through <see cref="ForgeLinearFunction"/>, whose backward computes the input gradient, then
/// the weight gradient <paramref name="slabRows"/> output rows at a time, each slab stepped at once by the
/// optimizer's element-wise rule (<see cref="ISlabStep"/>); no full weight gradient of a fused layer exists.
/// Other parameters (embeddings, norms) keep their <c>.grad</c> and are stepped after the backward.
/// Global-norm clipping is not expressible (the weights move during the backward) and is refused.
/// </summary>
public sealed class FusedBackwardStepDriver : IStepDriver, ILinearRoute, IDisposable
{
    private readonly IDeviceClock _clock;
    private readonly long _slabRows;
    private readonly Dictionary<string, FusedLinearLayer> _layers = new(StringComparer.Ordinal);
    private List<NamedParameter> _others = [];
    private IOptimizer? _boundTo;

    public FusedBackwardStepDriver(IDeviceClock clock, long slabRows, double gradClip)
    {
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentOutOfRangeException.ThrowIfLessThan(slabRows, 1);
        if (gradClip > 0)
            throw new NotSupportedException("fused_backward cannot clip the global gradient norm (weights are updated during the backward); set training.grad_clip: 0");
        _clock = clock;
        _slabRows = slabRows;
    }

    /// <summary>Default slab height: output rows per weight-gradient slab.</summary>
    public const long DefaultSlabRows = 64;

    /// <summary>The fused layers by weight name (for inspection: slab sizes, update counts).</summary>
    public IReadOnlyDictionary<string, FusedLinearLayer> Layers => _layers;

    public Tensor TrainStep(IWorkload workload, IOptimizer optimizer, IReadOnlyList<Batch> microBatches, double learningRate, StepTimings timings)
    {
        ArgumentNullException.ThrowIfNull(workload);
        ArgumentNullException.ThrowIfNull(microBatches);
        ArgumentNullException.ThrowIfNull(timings);
        Bind(workload, optimizer);
        var routable = (IRoutableLinears)workload;
        routable.RouteLinears(this);
        Tensor? total = null;
        try
        {
            for (var k = 0; k < microBatches.Count; k++)
            {
                foreach (var layer in _layers.Values)
                {
                    layer.LearningRate = learningRate;
                    layer.LastMicroBatch = k == microBatches.Count - 1;
                }
                var loss = workload.Loss(microBatches[k]);
                var scaled = microBatches.Count == 1 ? loss : loss / microBatches.Count;
                scaled.backward();
                RethrowLayerFailure();
                var detached = scaled.detach();
                total = total is null ? detached : total + detached;
            }
        }
        finally
        {
            routable.RouteLinears(null);
            foreach (var layer in _layers.Values) layer.ReleaseReturned();
        }
        // The fused weights were stepped inside the backward; this times only the remaining parameters.
        var start = _clock.Now();
        var perParameter = (IPerParameterStep)optimizer;
        foreach (var p in _others)
        {
            using var grad = p.Value.grad;
            if (grad is null) continue;
            perParameter.StepParameter(p, grad, learningRate);
        }
        timings.OptimizerSeconds = _clock.Now() - start;
        optimizer.ZeroGrad();
        // On CUDA, libtorch runs the backward on its own device thread, which has no dispose scope: the
        // wrappers TorchSharp makes there for the custom function's saved inputs and returned gradients are
        // only freed by their finalizers. Collect them every step, or their device memory piles up (seen on
        // an H100: 74 GiB after a few dozen LLaMA-60M steps).
        if (_layers.Values.FirstOrDefault()?.Weight.Value.device_type == TorchSharp.DeviceType.CUDA)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
        return total!;
    }

    private void RethrowLayerFailure()
    {
        foreach (var layer in _layers.Values)
        {
            if (layer.Failure is not { } failure) continue;
            layer.Failure = null;
            failure.Throw();
        }
    }

    public Tensor Linear(Tensor input, Tensor weight, string weightName) =>
        _layers.TryGetValue(weightName, out var layer)
            ? ForgeLinearFunction.apply(input, weight, layer)
            : nn.functional.linear(input, weight);

    private void Bind(IWorkload workload, IOptimizer optimizer)
    {
        if (ReferenceEquals(_boundTo, optimizer)) return;
        if (workload is not IRoutableLinears routable || routable.RoutableWeights.Count == 0)
            throw new NotSupportedException($"{workload.GetType().Name} has no routable linear layers, which fused_backward needs");
        if (optimizer is not ISlabStep { SupportsSlabs: true } slabs || optimizer is not IPerParameterStep)
            throw new NotSupportedException($"{optimizer.GetType().Name} has no element-wise slab step, which fused_backward needs");
        foreach (var layer in _layers.Values) layer.Dispose();
        _layers.Clear();
        var fused = routable.RoutableWeights.ToHashSet(StringComparer.Ordinal);
        foreach (var p in workload.Parameters.Where(p => fused.Contains(p.Name)))
            _layers[p.Name] = new FusedLinearLayer(p, slabs, _slabRows);
        _others = workload.Parameters.Where(p => !fused.Contains(p.Name)).ToList();
        _boundTo = optimizer;
    }

    public void Dispose()
    {
        foreach (var layer in _layers.Values) layer.Dispose();
        _layers.Clear();
    }
}
