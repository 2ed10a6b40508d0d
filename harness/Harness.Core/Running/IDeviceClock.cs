using System.Diagnostics;
using Harness.Core.Devices;

namespace Harness.Core.Running;

/// <summary>A clock whose readings come after all queued device work has finished.</summary>
public interface IDeviceClock
{
    /// <summary>Seconds since an arbitrary origin, read after synchronising the device.</summary>
    double Now();
}

/// <summary>
/// Host clock plus a device synchronisation before each reading. CPU ops are synchronous, so there it is
/// a plain stopwatch; on CUDA every reading synchronises (used around the optimizer step on logged steps).
/// </summary>
public sealed class SynchronizedClock(Action synchronize) : IDeviceClock
{
    private readonly Stopwatch _watch = Stopwatch.StartNew();

    public SynchronizedClock(DeviceSession session) : this(session.Synchronize) { }

    public double Now()
    {
        synchronize();
        return _watch.Elapsed.TotalSeconds;
    }
}
