using static TorchSharp.torch;

namespace Harness.Experiments.Workloads;

/// <summary>What a workload needs from the run: seed, device, dtype and batch size.</summary>
public sealed record WorkloadContext(int Seed, Device Device, ScalarType DType, int BatchSize);
