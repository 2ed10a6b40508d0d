using TorchSharp;
using static TorchSharp.torch;

namespace Harness.Optimizers.Quantization;

/// <summary>
/// The two constant 256-entry code books of bitsandbytes' 8-bit Adam (signed dynamic map for m, unsigned
/// for v), placed on the parameters' device, plus the signed code the kernel loads for padded lanes.
/// Shared by <c>Adam8bit</c> and Q-GaLore's 8-bit moments; the owner disposes it.
/// </summary>
public sealed class Adam8bitCodebooks : IDisposable
{
    public Adam8bitCodebooks(Device device)
    {
        var signedMap = DynamicMap.Create(signed: true);
        var unsignedMap = DynamicMap.Create(signed: false);
        PaddedLaneCode = signedMap.data<float>()[128];
        SignedSearch = new CodeSearch(signedMap.data<float>().ToArray(), device);
        UnsignedSearch = new CodeSearch(unsignedMap.data<float>().ToArray(), device);
        Signed = OnDevice(signedMap, device);
        Unsigned = OnDevice(unsignedMap, device);
    }

    /// <summary>The table search of <see cref="Signed"/>'s nearest code.</summary>
    public CodeSearch SignedSearch { get; }

    /// <summary>The table search of <see cref="Unsigned"/>'s nearest code.</summary>
    public CodeSearch UnsignedSearch { get; }

    /// <summary>Signed code book (first moment).</summary>
    public Tensor Signed { get; }

    /// <summary>Unsigned code book (second moment).</summary>
    public Tensor Unsigned { get; }

    /// <summary>code1[128]: what the kernel loads for lanes past the end of a partial last block.</summary>
    public float PaddedLaneCode { get; }

    private static Tensor OnDevice(Tensor map, Device device)
    {
        // TorchSharp's to() returns the same tensor when nothing moves, so only a real move frees the original.
        if (map.device_type == device.type && (device.type == DeviceType.CPU || map.device_index == device.index)) return map.DetachFromDisposeScope();
        var moved = map.to(device).DetachFromDisposeScope();
        map.Dispose();
        return moved;
    }

    public void Dispose()
    {
        Signed.Dispose();
        Unsigned.Dispose();
        SignedSearch.Dispose();
        UnsignedSearch.Dispose();
    }
}
