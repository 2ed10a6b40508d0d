using static TorchSharp.torch;

namespace Harness.Experiments.Workloads;

/// <summary>What a workload needs from the run: seed, device, dtype and batch size, and where data paths resolve.</summary>
public sealed record WorkloadContext(int Seed, Device Device, ScalarType DType, int BatchSize)
{
    /// <summary>The config file's folder (relative data paths) and the cache (token files, prepared datasets).</summary>
    public Data.DataLocations Data { get; init; } = Harness.Experiments.Data.DataLocations.None;

    /// <summary><c>training.activation_checkpointing</c>: decoder layers recompute their forward in the backward (LLaMA only).</summary>
    public bool ActivationCheckpointing { get; init; }

    /// <summary><c>training.dtype: mixed</c>: the dtype matmuls run in while parameters stay <see cref="DType"/> (the language models; image workloads ignore it, the planner skips them); null = DType.</summary>
    public ScalarType? ComputeDType { get; init; }
}
