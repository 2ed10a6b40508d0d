using Harness.Core.Devices;
using Harness.Core.Running;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Core.Distributed;

/// <summary>
/// One data-parallel step on this rank: each micro-batch is the global micro-batch cut to this rank's rows
/// (<see cref="BatchSharding"/>), forward and backward run locally, the gradients are averaged over the ranks in
/// buckets (<see cref="GradientBuckets"/>), clipped (the same norm on every rank, the gradients being equal), and the
/// optimizer steps (a <see cref="ShardedOptimizer"/> steps its shard and broadcasts the parameters). Returns the
/// global mean loss, identical on every rank.
/// </summary>
public sealed class DataParallelStepDriver(ICollective collective, GradientBuckets buckets, IDeviceClock clock, double gradClip,
    IDeviceMemoryProbe? memory = null) : IStepDriver
{
    public Tensor TrainStep(IWorkload workload, IOptimizer optimizer, IReadOnlyList<Batch> microBatches, double learningRate, StepTimings timings)
    {
        Tensor? total = null;
        using var divisor = (TorchSharp.Scalar)(double)microBatches.Count;
        foreach (var batch in microBatches)
        {
            using var share = BatchSharding.Slice(batch, collective.Rank, collective.WorldSize);
            var loss = workload.Loss(share);
            var scaled = microBatches.Count == 1 ? loss : loss.div(divisor);
            scaled.backward();
            var detached = scaled.detach();
            total = total is null ? detached : total + detached;
        }
        // TorchSharp 0.107 has no tensor backward hooks, so readiness is signalled after the backward here; a driver
        // that sees each weight's gradient appear (the per-layer autograd functions) calls MarkReady as it goes.
        buckets.ReduceAll(workload.Parameters, collective);
        if (gradClip > 0)
            nn.utils.clip_grad_norm_(workload.Parameters.Select(p => p.Value), gradClip);
        // M2 as the standard driver measures it; here the step includes the broadcast of the parameters from their owners.
        StandardStepDriver.MeasuredUpdate(optimizer, learningRate, clock, memory, timings);
        optimizer.ZeroGrad();
        var global = total!.reshape(1).to(ScalarType.Float32, copy: true);
        collective.AllReduce(global, ReduceOp.Average);
        return global.reshape([]);
    }
}
