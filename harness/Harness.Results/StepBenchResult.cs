namespace Harness.Results;

/// <summary>One measured configuration of the step benchmark.</summary>
public sealed record StepBenchResult
{
    public required string Gpu { get; init; }
    public required string ParameterSet { get; init; }
    public required long Parameters { get; init; }
    public required string Optimizer { get; init; }
    public required string Implementation { get; init; }
    public required string Dtype { get; init; }
    public required int Steps { get; init; }
    public required double MedianMs { get; init; }
    public required double MinMs { get; init; }
    public required long StateBytes { get; init; }
    public long? TransientBytes { get; init; }
    /// <summary>Bytes a step must move: parameters read and written, gradients read, every state byte read and written.</summary>
    public required long BytesMoved { get; init; }
    /// <summary>Device-to-device copy bandwidth (bytes read + written per second), measured in the same run.</summary>
    public required double BandwidthBytesPerS { get; init; }
    public double FloorMs => BytesMoved / BandwidthBytesPerS * 1e3;
    public double RatioToFloor => MedianMs / FloorMs;
    public string Source { get; init; } = "harness";
}
