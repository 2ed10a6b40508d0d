namespace Harness.Core.Bench;

/// <summary>The two rates the step benchmark's floors divide by, both measured on the device in the same run.</summary>
/// <param name="BandwidthBytesPerS">Device-to-device copy bandwidth, bytes read + written per second.</param>
/// <param name="MatmulFlopsPerS">Throughput of a large square matrix product in the benchmark's dtype, FLOP/s.</param>
public sealed record DeviceRates(double BandwidthBytesPerS, double MatmulFlopsPerS);
