using Harness.Core.Config;
using Harness.Core.Devices;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Core.Running;

/// <summary>
/// The usual step: accumulate gradients over the micro-batches (each loss scaled by 1/n, so the step sees
/// the mean gradient), clip the global norm if asked, update, and drop the gradients. With a memory probe
/// it measures M2 the only clean way: reset the peak right before the update and read it right after,
/// with nothing else in between. With <c>training.grad_buffers: keep</c> the gradients are zeroed in place instead
/// of dropped.
/// </summary>
public sealed class StandardStepDriver(IDeviceClock clock, double gradClip, IDeviceMemoryProbe? memory = null,
    GradBuffersMode gradBuffers = GradBuffersMode.Free) : IStepDriver
{
    public Tensor TrainStep(IWorkload workload, IOptimizer optimizer, IReadOnlyList<Batch> microBatches, double learningRate, StepTimings timings)
    {
        Tensor? total = null;
        // One Scalar for every micro-batch, alive until the method returns: an implicit int → Scalar temporary is
        // unreferenced while libtorch reads it, and a garbage collection in that window finalizes it under the call
        // (seen once in CI as "Unknown scalar type" from div).
        using var divisor = (TorchSharp.Scalar)(double)microBatches.Count;
        foreach (var batch in microBatches)
        {
            var loss = workload.Loss(batch);
            var scaled = microBatches.Count == 1 ? loss : loss.div(divisor);
            scaled.backward();
            var detached = scaled.detach();
            total = total is null ? detached : total + detached;
        }
        if (gradClip > 0)
            nn.utils.clip_grad_norm_(workload.Parameters.Select(p => p.Value), gradClip);

        MeasuredUpdate(optimizer, learningRate, clock, memory, timings);
        GradientBuffers.Clear(workload, optimizer, gradBuffers);
        return total!;
    }

    /// <summary>
    /// <paramref name="optimizer"/>'s update with M2 measured around it (the peak reset right before and read right
    /// after, nothing else in between) and its time where asked: the one measurement every gradient-then-step driver shares.
    /// </summary>
    public static void MeasuredUpdate(IOptimizer optimizer, double learningRate, IDeviceClock clock, IDeviceMemoryProbe? memory, StepTimings timings)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(timings);
        long allocatedBefore = 0;
        if (memory is not null)
        {
            timings.PeakBeforeOptimizerBytes = memory.PeakSinceReset;
            allocatedBefore = memory.Allocated;
            memory.ResetPeak();
        }
        var start = timings.MeasureOptimizer ? clock.Now() : 0;
        optimizer.Step(learningRate);
        if (timings.MeasureOptimizer) timings.OptimizerSeconds = clock.Now() - start;
        // Allocation is accounted when ops are enqueued, so the peak is exact without a synchronisation.
        if (memory is not null) timings.StepTransientBytes = memory.PeakSinceReset - allocatedBefore;
    }
}
