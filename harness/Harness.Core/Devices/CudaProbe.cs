using System.Runtime.InteropServices;

namespace Harness.Core.Devices;

/// <summary>
/// The native CUDA probe (harness/native/harness_cuda_probe.cpp, built on the host by
/// <see cref="NativeLibraryBuilder"/>): exact caching-allocator statistics and CUDA events on the stream
/// TorchSharp's ops run on.
/// </summary>
public sealed unsafe class CudaProbe : IDeviceMemoryProbe, IDisposable
{
    private readonly nint _library;
    private readonly int _device;
    private readonly delegate* unmanaged<int, long*, long*, long*, int> _stats;
    private readonly delegate* unmanaged<int, int> _resetPeak;
    private readonly delegate* unmanaged<int, nint*, int> _eventRecord;
    private readonly delegate* unmanaged<nint, nint, float*, int> _eventElapsed;
    private readonly delegate* unmanaged<nint, int> _eventDestroy;
    private readonly delegate* unmanaged<int, int> _synchronize;
    private readonly delegate* unmanaged<int, long*, long*, int> _memGetInfo;
    private readonly delegate* unmanaged<int> _emptyCache;

    public const int AbiVersion = 2;

    public CudaProbe(string libraryPath, int device)
    {
        _library = NativeLibrary.Load(libraryPath);
        _device = device;
        var abi = (delegate* unmanaged<int>)Export("hp_abi_version");
        if (abi() != AbiVersion)
            throw new InvalidOperationException($"{libraryPath}: ABI version {abi()}, expected {AbiVersion}; delete it to rebuild");
        _stats = (delegate* unmanaged<int, long*, long*, long*, int>)Export("hp_memory_stats");
        _resetPeak = (delegate* unmanaged<int, int>)Export("hp_reset_peak");
        _eventRecord = (delegate* unmanaged<int, nint*, int>)Export("hp_event_record");
        _eventElapsed = (delegate* unmanaged<nint, nint, float*, int>)Export("hp_event_elapsed_ms");
        _eventDestroy = (delegate* unmanaged<nint, int>)Export("hp_event_destroy");
        _synchronize = (delegate* unmanaged<int, int>)Export("hp_stream_synchronize");
        _memGetInfo = (delegate* unmanaged<int, long*, long*, int>)Export("hp_mem_get_info");
        _emptyCache = (delegate* unmanaged<int>)Export("hp_empty_cache");
    }

    private nint Export(string name) => NativeLibrary.GetExport(_library, name);

    private static void Check(int code, string what)
    {
        if (code != 0) throw new InvalidOperationException($"CUDA probe: {what} failed with code {code}");
    }

    private (long Allocated, long Peak, long Reserved) Stats()
    {
        long a, p, r;
        Check(_stats(_device, &a, &p, &r), "memory statistics");
        return (a, p, r);
    }

    public long Allocated => Stats().Allocated;
    public long PeakSinceReset => Stats().Peak;
    public long Reserved => Stats().Reserved;
    public void ResetPeak() => Check(_resetPeak(_device), "reset of peak statistics");
    public string Level => "allocator";

    public void Synchronize() => Check(_synchronize(_device), "stream synchronisation");

    /// <summary>Returns the caching allocator's unused blocks to the driver (between runs).</summary>
    public void EmptyCache() => Check(_emptyCache(), "emptyCache");

    /// <summary>Device-level used bytes (context and other processes included), for cross-checks.</summary>
    public long DeviceUsed
    {
        get
        {
            long free, total;
            Check(_memGetInfo(_device, &free, &total), "cudaMemGetInfo");
            return total - free;
        }
    }

    /// <summary>A timeline of CUDA events on the current stream.</summary>
    public ITimeline Timeline() => new EventTimeline(this);

    private sealed class EventTimeline(CudaProbe probe) : ITimeline
    {
        private readonly List<nint> _events = [];

        public int Mark()
        {
            nint e;
            Check(probe._eventRecord(probe._device, &e), "event record");
            _events.Add(e);
            return _events.Count - 1;
        }

        public double Seconds(int from, int to)
        {
            float ms;
            Check(probe._eventElapsed(_events[from], _events[to], &ms), "event elapsed time");
            return ms / 1e3;
        }

        public void Reset()
        {
            foreach (var e in _events) probe._eventDestroy(e);
            _events.Clear();
        }

        public string Method => "CUDA events on the current stream";

        public void Dispose() => Reset();
    }

    public void Dispose() => NativeLibrary.Free(_library);
}
