using System.Diagnostics;
using static TorchSharp.torch;

namespace Harness.Core.Running;

/// <summary>A clock whose readings come after all queued device work has finished.</summary>
public interface IDeviceClock
{
    /// <summary>Seconds since an arbitrary origin, read after synchronising the device.</summary>
    double Now();
}

/// <summary>
/// Host clock plus a device synchronisation before each reading. CPU ops are synchronous, so there it is
/// a plain stopwatch; on CUDA every reading synchronises.
/// </summary>
public sealed class SynchronizedClock(Device device) : IDeviceClock
{
    private readonly Stopwatch _watch = Stopwatch.StartNew();

    public double Now()
    {
        if (device.type == TorchSharp.DeviceType.CUDA) cuda.synchronize(device);
        return _watch.Elapsed.TotalSeconds;
    }
}
