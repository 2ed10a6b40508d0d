namespace Harness.Core.Devices;

/// <summary>Exact statistics of the device's caching allocator (CUDA); CPU runs have none.</summary>
public interface IDeviceMemoryProbe
{
    long Allocated { get; }
    long PeakSinceReset { get; }
    long Reserved { get; }
    void ResetPeak();
    /// <summary>Waits for queued device work, so that a clock or a peak read afterwards is true.</summary>
    void Synchronize();
}
