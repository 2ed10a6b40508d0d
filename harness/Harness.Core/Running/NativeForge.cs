using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Harness.Core.Running;

/// <summary>
/// FORGE's linear layer as a native libtorch autograd function (<c>harness/native/harness_forge.cpp</c>, built on
/// the GPU host on first CUDA use, like the probe and the optimizer kernels). FORGE: Kukreja et al., arXiv
/// 2606.22932, reference code dk4248/FORGE. Same contract as <see cref="ForgeLinearFunction"/> (the managed
/// route): the backward returns the input gradient, computed with the pre-update weight, and no weight
/// gradient; it then calls back into <see cref="ForgeLinearLayer.ConsumeCapturingErrors"/> with the saved input
/// and the output gradient, where the weight gradient is formed and consumed slab by slab. Unlike TorchSharp's
/// custom-function machinery, the native node keeps no <c>empty_like</c> output cache per output and creates no
/// managed wrappers that only a garbage collection frees, so the memory FORGE saves is actually saved.
/// </summary>
/// <remarks>
/// Tensor handles crossing the boundary are <c>at::Tensor*</c> (TorchSharp's own handle type): the input and weight
/// are lent to <c>hf_linear</c>; the output it returns and the two tensors passed to the callback are new ones this
/// side owns and frees (<see cref="Tensor.Dispose()"/> deletes them). On CUDA the callback runs on libtorch's
/// autograd device thread, which has no dispose scope: everything made there is disposed explicitly. No managed
/// exception may unwind into libtorch: the layer keeps it and the driver rethrows once <c>backward()</c> returns.
/// The library stays loaded for the life of the process (autograd nodes of its type may outlive any session), so
/// this binding has nothing to dispose.
/// </remarks>
public sealed unsafe class NativeForge
{
    /// <summary>The library's ABI version this binding speaks (<c>hf_abi_version</c>).</summary>
    public const int AbiVersion = 1;

    /// <summary>Callback result: the gradients were consumed.</summary>
    internal const int CallbackOk = 0;

    /// <summary>Callback result: consuming failed; the layer keeps the exception for the driver.</summary>
    internal const int CallbackLayerFailed = 1;

    /// <summary>Callback result: failed before reaching a layer (nothing kept): the native side fails the backward.</summary>
    internal const int CallbackUnreachable = 2;

    private readonly nint _library;
    private readonly delegate* unmanaged<nint> _lastError;
    private readonly delegate* unmanaged<nint, nint, long, nint, nint, nint> _linear;

    public NativeForge(string libraryPath)
    {
        _library = NativeLibrary.Load(libraryPath);
        LibraryPath = libraryPath;
        try
        {
            var abi = ((delegate* unmanaged<int>)NativeLibrary.GetExport(_library, "hf_abi_version"))();
            if (abi != AbiVersion)
                throw new InvalidOperationException($"{libraryPath}: FORGE ABI version {abi}, expected {AbiVersion}; delete it to rebuild");
            _lastError = (delegate* unmanaged<nint>)NativeLibrary.GetExport(_library, "hf_last_error");
            _linear = (delegate* unmanaged<nint, nint, long, nint, nint, nint>)NativeLibrary.GetExport(_library, "hf_linear");
        }
        catch
        {
            NativeLibrary.Free(_library); // no node of its type exists yet
            throw;
        }
    }

    public string LibraryPath { get; }

    /// <summary>
    /// <c>input·weightᵀ</c> through the native FORGE function; its backward hands the layer the input and output
    /// gradient (<paramref name="layer"/> must stay undisposed while the graph lives).
    /// </summary>
    public Tensor Linear(Tensor input, Tensor weight, ForgeLinearLayer layer)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(layer);
        delegate* unmanaged[Cdecl]<nint, long, nint, nint, int> callback = &OnBackward;
        var handle = _linear(input.Handle, weight.Handle, layer.Index, (nint)callback, layer.NativeUser);
        GC.KeepAlive(input);
        GC.KeepAlive(weight);
        if (handle == 0)
            throw new InvalidOperationException($"hf_linear failed: {Marshal.PtrToStringUTF8(_lastError()) ?? ""}");
        return Tensor.UnsafeCreateTensor(handle);
    }

    /// <summary>
    /// Called by the native backward (on libtorch's autograd thread on CUDA) with new tensors it hands over: the
    /// saved input and the output gradient. Never throws.
    /// </summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OnBackward(nint user, long layerId, nint inputHandle, nint gradOutputHandle)
    {
        Tensor? input = null, gradOutput = null;
        ForgeLinearLayer? layer = null;
        try
        {
            // Everything the slab arithmetic makes here (reshaped views of x and dY that keep them alive, slab
            // temporaries) dies with this scope: this thread (libtorch's autograd worker) has no other scope, and
            // leaving them to the garbage collector held activations for steps (a 4.5 GB peak on an H100).
            using var scope = NewDisposeScope();
            input = Tensor.UnsafeCreateTensor(inputHandle);
            gradOutput = Tensor.UnsafeCreateTensor(gradOutputHandle);
            layer = GCHandle.FromIntPtr(user).Target as ForgeLinearLayer;
            if (layer is null) return CallbackUnreachable;
            layer.ConsumeCapturingErrors(input, gradOutput);
            return layer.Failure is null ? CallbackOk : CallbackLayerFailed;
        }
        catch (Exception e)
        {
            if (layer is null) return CallbackUnreachable;
            layer.Failure ??= ExceptionDispatchInfo.Capture(e);
            return CallbackLayerFailed;
        }
        finally
        {
            input?.Dispose();
            gradOutput?.Dispose();
        }
    }
}
