using System.Runtime.InteropServices;

namespace Harness.Core.Devices;

/// <summary>
/// Fallback when the native probe cannot be built: the CUDA driver's <c>cuMemGetInfo</c>, sampled when
/// read. Device-level: it includes the CUDA context, the caching allocator's slack and other processes,
/// and its "peak" is the highest sample taken, so the results are labelled <c>device-level</c>.
/// </summary>
public sealed partial class DriverMemoryProbe : IDeviceMemoryProbe
{
    private long _peak;

    [LibraryImport("libcuda.so.1", EntryPoint = "cuMemGetInfo_v2")]
    private static partial int CuMemGetInfo(out nuint free, out nuint total);

    private long Sample()
    {
        var code = CuMemGetInfo(out var free, out var total);
        if (code != 0) throw new InvalidOperationException($"cuMemGetInfo failed with CUDA driver error {code}");
        var used = (long)(total - free);
        _peak = Math.Max(_peak, used);
        return used;
    }

    public long Allocated => Sample();
    public long PeakSinceReset { get { Sample(); return _peak; } }
    public long Reserved => Sample();
    public void ResetPeak() => _peak = Sample();
    public string Level => "device-level";
}
