using Harness.Experiments.Workloads;
using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Core.Running;

/// <summary>
/// The usual step: accumulate gradients over the micro-batches (each loss scaled by 1/n, so the step sees
/// the mean gradient), clip the global norm if asked, update, and drop the gradients.
/// </summary>
public sealed class StandardStepDriver(IDeviceClock clock, double gradClip) : IStepDriver
{
    public Tensor TrainStep(IWorkload workload, IOptimizer optimizer, IReadOnlyList<Batch> microBatches, double learningRate, StepTimings timings)
    {
        Tensor? total = null;
        foreach (var batch in microBatches)
        {
            var loss = workload.Loss(batch);
            var scaled = microBatches.Count == 1 ? loss : loss / microBatches.Count;
            scaled.backward();
            var detached = scaled.detach();
            total = total is null ? detached : total + detached;
        }
        if (gradClip > 0)
            nn.utils.clip_grad_norm_(workload.Parameters.Select(p => p.Value), gradClip);
        var start = clock.Now();
        optimizer.Step(learningRate);
        timings.OptimizerSeconds = clock.Now() - start;
        optimizer.ZeroGrad();
        return total!;
    }
}
