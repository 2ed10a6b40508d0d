using Harness.Experiments.Workloads;

namespace Harness.Core.Config;

/// <summary>A loaded, validated experiment file, with every sweep expanded.</summary>
public sealed record ExperimentConfig
{
    /// <summary>Runs go to <c>runs/&lt;name&gt;/</c>.</summary>
    public required string Name { get; init; }
    public string? Description { get; init; }
    /// <summary><c>auto</c>, <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</summary>
    public string Device { get; init; } = "auto";
    /// <summary>
    /// GPUs to train each run on, data parallel, one process per GPU (<c>--gpus N</c> overrides it). The
    /// <c>training.batch_size</c> is the global batch; each rank trains on an equal share.
    /// </summary>
    public int Devices { get; init; } = 1;
    public IReadOnlyList<int> Seeds { get; init; } = [0];
    public StepMode StepMode { get; init; } = StepMode.Standard;
    public required WorkloadSpec Workload { get; init; }
    public TrainingConfig Training { get; init; } = new();
    public ScheduleConfig Schedule { get; init; } = new();
    public LoggingConfig Logging { get; init; } = new();
    /// <summary>Every optimizer configuration, sweeps expanded, in file order.</summary>
    public required IReadOnlyList<OptimizerVariant> Optimizers { get; init; }
    /// <summary>The file it was loaded from (for messages and the manifest).</summary>
    public string SourcePath { get; init; } = "";
}
