namespace Harness.Core.Devices;

/// <summary>Memory statistics of a CUDA device; CPU runs have none.</summary>
public interface IDeviceMemoryProbe
{
    /// <summary>Bytes in live tensors (allocator) or used on the device (device-level fallback).</summary>
    long Allocated { get; }
    /// <summary>The highest <see cref="Allocated"/> since the last <see cref="ResetPeak"/>.</summary>
    long PeakSinceReset { get; }
    /// <summary>Bytes the caching allocator holds (allocator) or used on the device (fallback).</summary>
    long Reserved { get; }
    void ResetPeak();
    /// <summary>What the numbers are: <c>allocator</c> (exact) or <c>device-level</c> (sampled, includes the context).</summary>
    string Level { get; }
}
