using Harness.Experiments.Workloads;
using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Core.Running;

/// <summary>Timings of one training step, filled in by the driver.</summary>
public sealed class StepTimings
{
    public double OptimizerSeconds { get; set; }
}

/// <summary>
/// Executes one training step (forward, backward, optimizer update) over its micro-batches and returns the
/// mean loss as a detached scalar (reading it is the caller's choice: a read is a host sync).
/// </summary>
public interface IStepDriver
{
    Tensor TrainStep(IWorkload workload, IOptimizer optimizer, IReadOnlyList<Batch> microBatches, double learningRate, StepTimings timings);
}
