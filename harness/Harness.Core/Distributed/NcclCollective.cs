using System.Runtime.InteropServices;
using System.Text;
using Harness.Optimizers.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Harness.Core.Distributed;

/// <summary>
/// <see cref="ICollective"/> over NCCL (harness/native/harness_nccl.cpp, built on the GPU host by
/// <see cref="Devices.NativeLibraryBuilder"/>): one communicator per rank process, joined with the unique id rank 0
/// publishes through the <see cref="FileRendezvous"/>. Operations are enqueued on the current PyTorch stream with the
/// tensors' device pointers, so they order with the surrounding kernels without a host wait; a native watchdog aborts
/// the communicator when one does not finish within <see cref="Timeout"/>, and the next call here throws
/// <see cref="CollectiveException"/> with the reason. <see cref="Barrier"/> waits on the host.
/// </summary>
public sealed unsafe class NcclCollective : ICollective
{
    public const string UniqueIdKey = "nccl-unique-id";

    private readonly nint _library;
    private readonly nint _comm;
    private readonly delegate* unmanaged<nint, nint, nuint, int, int, int> _allReduce;
    private readonly delegate* unmanaged<nint, nint, nint, nuint, int, int> _allGather;
    private readonly delegate* unmanaged<nint, nint, nuint, int, int, int> _broadcast;
    private readonly delegate* unmanaged<nint, int> _synchronize;
    private readonly delegate* unmanaged<nint, byte*, void> _abort;
    private readonly delegate* unmanaged<nint, byte*, int, int> _error;
    private readonly delegate* unmanaged<nint, void> _destroy;
    private readonly delegate* unmanaged<nint, nint> _dataPtr;
    private readonly int _device;
    private bool _disposed;

    /// <summary>Joins the run's communicator as <paramref name="rank"/> on CUDA device <paramref name="device"/>.</summary>
    public NcclCollective(string libraryPath, RankEnvironment rank, int device, TimeSpan timeout)
    {
        (Rank, WorldSize, Timeout, _device) = (rank.Rank, rank.WorldSize, timeout, device);
        _library = NativeLibrary.Load(libraryPath);
        _allReduce = (delegate* unmanaged<nint, nint, nuint, int, int, int>)Export("hn_all_reduce");
        _allGather = (delegate* unmanaged<nint, nint, nint, nuint, int, int>)Export("hn_all_gather");
        _broadcast = (delegate* unmanaged<nint, nint, nuint, int, int, int>)Export("hn_broadcast");
        _synchronize = (delegate* unmanaged<nint, int>)Export("hn_synchronize");
        _abort = (delegate* unmanaged<nint, byte*, void>)Export("hn_abort");
        _error = (delegate* unmanaged<nint, byte*, int, int>)Export("hn_error");
        _destroy = (delegate* unmanaged<nint, void>)Export("hn_destroy");
        _dataPtr = (delegate* unmanaged<nint, nint>)FusedKernels.LibTorchSharpExport("THSTensor_data");

        var idBytes = ((delegate* unmanaged<int>)Export("hn_unique_id_bytes"))();
        var store = new FileRendezvous(rank.Rendezvous, rank.Rank, timeout);
        byte[] id;
        if (rank.Rank == 0)
        {
            id = new byte[idBytes];
            fixed (byte* p = id)
                if (((delegate* unmanaged<byte*, int>)Export("hn_get_unique_id"))(p) is var code and not 0)
                    throw new CollectiveException($"rank 0: ncclGetUniqueId failed with code {code}");
            store.Publish(UniqueIdKey, id);
        }
        else id = store.WaitFor(UniqueIdKey);
        var message = new byte[512];
        nint comm;
        fixed (byte* p = id)
        fixed (byte* m = message)
            if (((delegate* unmanaged<byte*, int, int, int, int, nint*, byte*, int, int>)Export("hn_init"))(
                    p, WorldSize, Rank, device, (int)timeout.TotalMilliseconds, &comm, m, message.Length) != 0)
                throw new CollectiveException($"rank {Rank}: {Text(message)}");
        _comm = comm;
    }

    public int Rank { get; }
    public int WorldSize { get; }
    public TimeSpan Timeout { get; }

    public void AllReduce(Tensor buffer, ReduceOp op) =>
        Check(_allReduce(_comm, Pointer(buffer), (nuint)buffer.numel(), DType(buffer), op == ReduceOp.Average ? 1 : 0), "all_reduce");

    public void AllGather(Tensor input, Tensor output)
    {
        if (output.numel() != input.numel() * WorldSize || output.dtype != input.dtype)
            throw new ArgumentException($"all_gather output has {output.numel()} {output.dtype} elements, expected {WorldSize} x {input.numel()} {input.dtype}");
        Check(_allGather(_comm, Pointer(input), Pointer(output), (nuint)input.numel(), DType(input)), "all_gather");
    }

    public void Broadcast(Tensor buffer, int root) =>
        Check(_broadcast(_comm, Pointer(buffer), (nuint)buffer.numel(), DType(buffer), root), "broadcast");

    public void Barrier()
    {
        using var one = ones(1, ScalarType.Float32, new Device(DeviceType.CUDA, _device));
        AllReduce(one, ReduceOp.Sum);
        Check(_synchronize(_comm), "barrier");
    }

    public void Abort(string reason)
    {
        var bytes = Encoding.UTF8.GetBytes(reason + "\0");
        fixed (byte* p = bytes) _abort(_comm, p);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _destroy(_comm);
    }

    private nint Export(string name) => NativeLibrary.GetExport(_library, name);

    private nint Pointer(Tensor t)
    {
        if (t.device_type != DeviceType.CUDA || !t.is_contiguous())
            throw new ArgumentException($"NCCL needs contiguous CUDA tensors (got {t.device} contiguous={t.is_contiguous()})");
        return _dataPtr(t.Handle);
    }

    private void Check(int code, string what)
    {
        if (code == 0) return;
        var message = new byte[512];
        fixed (byte* m = message) _error(_comm, m, message.Length);
        throw new CollectiveException($"rank {Rank}: {what}: {Text(message)}");
    }

    private static string Text(byte[] message) => Encoding.UTF8.GetString(message, 0, Array.IndexOf(message, (byte)0) is var end and >= 0 ? end : message.Length);

    /// <summary>NCCL's <c>ncclDataType_t</c> code of a tensor's dtype.</summary>
    public static int DType(Tensor t) => t.dtype switch
    {
        ScalarType.Int8 => 0, ScalarType.Byte => 1, ScalarType.Int32 => 2, ScalarType.Int64 => 4,
        ScalarType.Float16 => 6, ScalarType.Float32 => 7, ScalarType.Float64 => 8, ScalarType.BFloat16 => 9,
        _ => throw new ArgumentException($"NCCL has no {t.dtype} collectives"),
    };
}
