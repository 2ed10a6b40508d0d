using Harness.Experiments.Workloads;
using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Core.Running;

/// <summary>
/// What the FORGE and per-layer drivers share: the routed weights of the workload bound to one optimizer (the rest are
/// <see cref="Others"/>, stepped after the backward), the route's <c>Linear</c>, and the forward and backward over a
/// step's micro-batches with a failure inside the backward rethrown after it.
/// </summary>
internal sealed class RoutedWeights<T> : IDisposable where T : class, IRoutedWeight
{
    private readonly Dictionary<string, T> _byName = new(StringComparer.Ordinal);
    private IOptimizer? _boundTo;

    public IReadOnlyDictionary<string, T> ByName => _byName;

    /// <summary>The workload's parameters that are not routed, in parameter order.</summary>
    public IReadOnlyList<NamedParameter> Others { get; private set; } = [];

    /// <summary>
    /// Binds to <paramref name="optimizer"/> unless already bound: <paramref name="prepare"/> checks the optimizer (throwing
    /// with the reason) and gives the factory of each routed weight (its parameter and index among the routed ones).
    /// </summary>
    /// <param name="mode">The step mode, for the refusal of a workload without routable layers.</param>
    public void Bind(IWorkload workload, IOptimizer optimizer, string mode, Func<IOptimizer, Func<NamedParameter, int, T>> prepare)
    {
        if (ReferenceEquals(_boundTo, optimizer)) return;
        if (workload is not IRoutableLinears routable || routable.RoutableWeights.Count == 0)
            throw new NotSupportedException($"{workload.GetType().Name} has no routable linear layers, which {mode} needs");
        var create = prepare(optimizer);
        Clear();
        var routed = routable.RoutableWeights.ToHashSet(StringComparer.Ordinal);
        foreach (var p in workload.Parameters.Where(p => routed.Contains(p.Name)))
            _byName[p.Name] = create(p, _byName.Count);
        Others = workload.Parameters.Where(p => !routed.Contains(p.Name)).ToList();
        _boundTo = optimizer;
    }

    /// <summary>The route: a routed weight's function, or plain <c>F.linear</c> for any other.</summary>
    public Tensor Linear(Tensor input, Tensor weight, string weightName) =>
        _byName.TryGetValue(weightName, out var w) ? w.Forward(input, weight) : nn.functional.linear(input, weight);

    /// <summary>Forward and backward over the micro-batches (the routed weights step on the last one); the mean loss.</summary>
    public Tensor Backward(IWorkload workload, IReadOnlyList<Batch> microBatches, double learningRate)
    {
        Tensor? total = null;
        using var divisor = (TorchSharp.Scalar)(double)microBatches.Count;  // alive through every div (see StandardStepDriver)
        for (var k = 0; k < microBatches.Count; k++)
        {
            foreach (var w in _byName.Values)
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
        return total!;
    }

    private void RethrowFailure()
    {
        foreach (var w in _byName.Values)
        {
            if (w.Failure is not { } failure) continue;
            w.Failure = null;
            failure.Throw();
        }
    }

    private void Clear()
    {
        foreach (var w in _byName.Values) w.Dispose();
        _byName.Clear();
    }

    public void Dispose() => Clear();
}
