using Harness.Experiments.Workloads;
using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Core.Running;

/// <summary>What the runner asks a driver to measure in one step, and what the driver measured.</summary>
public sealed class StepTimings
{
    /// <summary>Set by the runner: time the optimizer step (synchronising around it on CUDA), on logged steps only.</summary>
    public bool MeasureOptimizer { get; set; } = true;
    /// <summary>Seconds of the optimizer step alone, when measured.</summary>
    public double OptimizerSeconds { get; set; }
    /// <summary>Allocator peak over forward and backward, read before the optimizer step (when a probe exists).</summary>
    public long? PeakBeforeOptimizerBytes { get; set; }
    /// <summary>M2: allocator peak during the optimizer step minus what was allocated just before it.</summary>
    public long? StepTransientBytes { get; set; }
}

/// <summary>
/// Executes one training step (forward, backward, optimizer update) over its micro-batches and returns the
/// mean loss as a detached scalar (reading it is the caller's choice: a read is a host sync).
/// </summary>
public interface IStepDriver
{
    Tensor TrainStep(IWorkload workload, IOptimizer optimizer, IReadOnlyList<Batch> microBatches, double learningRate, StepTimings timings);
}
