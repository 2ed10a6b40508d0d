using System.Diagnostics;

namespace Harness.Core.Devices;

/// <summary>
/// Points in time on the device's work queue. Marking does not wait for the device; resolving a
/// duration may (once, at a window edge), so step times can be read without a synchronisation per step.
/// </summary>
public interface ITimeline : IDisposable
{
    /// <summary>Records a point after all work queued so far.</summary>
    int Mark();
    /// <summary>Seconds between two marks (waits for the later one to complete).</summary>
    double Seconds(int from, int to);
    /// <summary>Drops every mark (their ids become invalid).</summary>
    void Reset();
    /// <summary>How time is taken, for the metrics' notes.</summary>
    string Method { get; }
}

/// <summary>The host clock: exact for CPU work, which is synchronous.</summary>
public sealed class HostTimeline : ITimeline
{
    private readonly List<long> _stamps = [];
    public int Mark() { _stamps.Add(Stopwatch.GetTimestamp()); return _stamps.Count - 1; }
    public double Seconds(int from, int to) => (_stamps[to] - _stamps[from]) / (double)Stopwatch.Frequency;
    public void Reset() => _stamps.Clear();
    public string Method => "host clock";
    public void Dispose() { }
}

/// <summary>The host clock after a device synchronisation at every mark: correct but intrusive; the fallback when no CUDA events are available.</summary>
public sealed class SynchronizingTimeline(Action synchronize) : ITimeline
{
    private readonly HostTimeline _host = new();
    public int Mark() { synchronize(); return _host.Mark(); }
    public double Seconds(int from, int to) => _host.Seconds(from, to);
    public void Reset() => _host.Reset();
    public string Method => "host clock, device synchronised at every mark (no CUDA events)";
    public void Dispose() { }
}
