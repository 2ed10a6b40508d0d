using CsvHelper.Configuration.Attributes;

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
    /// <summary>The memory floor: <see cref="BytesMoved"/> at the copy bandwidth.</summary>
    [Optional]
    public double MemoryFloorMs => BandwidthBytesPerS > 0 ? BytesMoved / BandwidthBytesPerS * 1e3 : 0;
    /// <summary>Matrix-product FLOPs of an ordinary step (projections, Newton–Schulz), projection refreshes excluded.</summary>
    [Optional]
    public long MatmulFlops { get; init; }
    /// <summary>Throughput of a large matrix product in the benchmark's dtype (FLOP/s), measured in the same run.</summary>
    [Optional]
    public double MatmulFlopsPerS { get; init; }
    /// <summary>The compute floor: <see cref="MatmulFlops"/> at the measured matmul throughput (0 without either).</summary>
    [Optional]
    public double ComputeFloorMs => MatmulFlops > 0 && MatmulFlopsPerS > 0 ? MatmulFlops / MatmulFlopsPerS * 1e3 : 0;
    /// <summary>The larger of the memory and the compute floor.</summary>
    public double FloorMs => Math.Max(MemoryFloorMs, ComputeFloorMs);
    /// <summary>Median step time over <see cref="FloorMs"/>; 1 = the step runs at its floor; 0 when no floor was measured.</summary>
    public double RatioToFloor => FloorMs > 0 ? MedianMs / FloorMs : 0;
    /// <summary>Steps between projection refreshes (SVD, subspace update, random redraw); 0 when the optimizer has none.</summary>
    [Optional]
    public int RefreshEvery { get; init; }
    /// <summary>
    /// Time of one refresh: the median step with a refresh at every step minus <see cref="MedianMs"/>; null when not
    /// measured. The median step never contains a refresh.
    /// </summary>
    [Optional]
    public double? RefreshMs { get; init; }
    /// <summary>The refresh amortised over its gap: <see cref="RefreshMs"/> / <see cref="RefreshEvery"/>.</summary>
    [Optional]
    public double? RefreshMsPerStep => RefreshMs is { } ms && RefreshEvery > 0 ? ms / RefreshEvery : null;
    public string Source { get; init; } = "harness";
}
