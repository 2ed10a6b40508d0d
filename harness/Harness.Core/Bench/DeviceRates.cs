namespace Harness.Core.Bench;

/// <summary>The two rates the step benchmark's floors divide by, both measured on the device in the same run.</summary>
/// <param name="BandwidthBytesPerS">Device-to-device copy bandwidth, bytes read + written per second.</param>
/// <param name="MatmulFlopsPerS">Throughput of a large square matrix product in the benchmark's dtype, FLOP/s.</param>
/// <param name="BFloat16MatmulFlopsPerS">The same product in bf16, FLOP/s, for steps whose matrix products run in bf16 whatever the
/// benchmark's dtype (<see cref="Harness.Optimizers.StepCost.BFloat16Matmuls"/>: Muon's Newton–Schulz on CUDA); 0 when not
/// measured (the benchmark's own rate is then used).</param>
public sealed record DeviceRates(double BandwidthBytesPerS, double MatmulFlopsPerS, double BFloat16MatmulFlopsPerS = 0)
{
    /// <summary>The matmul throughput that bounds <paramref name="cost"/>'s products.</summary>
    public double MatmulRateFor(Harness.Optimizers.StepCost cost)
    {
        ArgumentNullException.ThrowIfNull(cost);
        return cost.BFloat16Matmuls && BFloat16MatmulFlopsPerS > 0 ? BFloat16MatmulFlopsPerS : MatmulFlopsPerS;
    }
}
