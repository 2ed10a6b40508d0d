using System.Reflection;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Harness.Optimizers.Kernels;

/// <summary>
/// The fused CUDA optimizer steps of <c>optimizers/kernels/harness_optim_kernels.cu</c> (built on the GPU
/// host on first CUDA use, like the native probe), called with the device pointers of TorchSharp tensors.
/// Multi-tensor: one launch per group of up to 192 tensors (48 where the host toolkit predates CUDA 12.1). Launches go on PyTorch's current stream, so they
/// are ordered with TorchSharp's own ops and need no synchronisation.
/// </summary>
public sealed unsafe class FusedKernels : IDisposable
{
    /// <summary>The kernel library's ABI version this binding speaks.</summary>
    public const int AbiVersion = 2;

    private readonly nint _library;
    private readonly delegate* unmanaged<nint> _lastError;
    private readonly delegate* unmanaged<int, int, int, nint*, nint*, nint*, nint*, long*, float*, int> _adamw;
    private readonly delegate* unmanaged<int, int, long, long, long, int, nint, nint, nint, nint, nint, nint, nint, float*, int> _forgeAdamW;
    private readonly delegate* unmanaged<int, int, int, nint*, nint*, nint*, nint*, nint*, nint*, long*, nint, nint, nint, nint, float*, int*, int> _adam8bit;
    private readonly delegate* unmanaged<int, int, int, long, long, long, int, nint, nint, nint, nint, nint, nint, nint, nint, nint, float*, int*, nint*, ulong, int> _forgeTc;
    private readonly delegate* unmanaged<int, int, int, int, nint*, nint*, nint*, nint*, nint*, long*, long*, long*, nint, float*, int> _gefen;
    private readonly delegate* unmanaged<int, long, int, double*, int> _copyBandwidth;
    private readonly delegate* unmanaged<int, int, long, int, int, nint, nint, nint, nint, nint, float, float, int, uint, uint, int> _requant;
    private readonly delegate* unmanaged<nint, nint> _dataPtr;

    public FusedKernels(string libraryPath, int device)
    {
        _library = NativeLibrary.Load(libraryPath);
        Device = device;
        LibraryPath = libraryPath;
        var abi = (delegate* unmanaged<int>)Export("hk_abi_version");
        if (abi() != AbiVersion)
            throw new InvalidOperationException($"{libraryPath}: kernel ABI version {abi()}, expected {AbiVersion}; delete it to rebuild");
        _lastError = (delegate* unmanaged<nint>)Export("hk_last_error");
        IsEmulated = ((delegate* unmanaged<int>)Export("hk_is_emulated"))() == 1;
        _adamw = (delegate* unmanaged<int, int, int, nint*, nint*, nint*, nint*, long*, float*, int>)Export("hk_adamw");
        // Optional: the ABI of the other entries is unchanged, and a library without it only lacks the FORGE tile step.
        if (NativeLibrary.TryGetExport(_library, "hk_forge_adamw", out var forge))
            _forgeAdamW = (delegate* unmanaged<int, int, long, long, long, int, nint, nint, nint, nint, nint, nint, nint, float*, int>)forge;
        if (NativeLibrary.TryGetExport(_library, "hk_forge_tc", out var forgeTc))
            _forgeTc = (delegate* unmanaged<int, int, int, long, long, long, int, nint, nint, nint, nint, nint, nint, nint, nint, nint, float*, int*, nint*, ulong, int>)forgeTc;
        _adam8bit = (delegate* unmanaged<int, int, int, nint*, nint*, nint*, nint*, nint*, nint*, long*, nint, nint, nint, nint, float*, int*, int>)Export("hk_adam8bit");
        _gefen = (delegate* unmanaged<int, int, int, int, nint*, nint*, nint*, nint*, nint*, long*, long*, long*, nint, float*, int>)Export("hk_gefen");
        _copyBandwidth = (delegate* unmanaged<int, long, int, double*, int>)Export("hk_copy_bandwidth");
        if (NativeLibrary.TryGetExport(_library, "hk_qgalore_requant", out var requant))
            _requant = (delegate* unmanaged<int, int, long, int, int, nint, nint, nint, nint, nint, float, float, int, uint, uint, int>)requant;
        _dataPtr = (delegate* unmanaged<nint, nint>)LibTorchSharpExport("THSTensor_data");
    }

    /// <summary>The CUDA device index the kernels launch on.</summary>
    public int Device { get; }

    /// <summary>
    /// True for the host-emulated build of the same source (the test suite's, g++ with the CUDA shim): it
    /// takes CPU tensors and runs every CUDA thread on the host. It checks the kernels' logic, not their speed.
    /// </summary>
    public bool IsEmulated { get; }

    /// <summary>Where the tensors the kernels take must live: CUDA, or the CPU for the emulated build.</summary>
    public DeviceType DeviceType => IsEmulated ? DeviceType.CPU : DeviceType.CUDA;

    /// <summary>True when <paramref name="t"/> is on the device these kernels address.</summary>
    public bool OnItsDevice(Tensor t) =>
        t.device_type == DeviceType && (IsEmulated || (t.device_index < 0 ? 0 : t.device_index) == Device);
    public string LibraryPath { get; }

    private nint Export(string name) => NativeLibrary.GetExport(_library, name);

    /// <summary>An export of TorchSharp's native library, e.g. <c>THSTensor_data(tensor)</c> = <c>tensor->data_ptr()</c> (storage offset included).</summary>
    public static nint LibTorchSharpExport(string name)
    {
        var assembly = typeof(torch).Assembly;
        foreach (var candidate in new[] { "LibTorchSharp", "libLibTorchSharp.so", "libLibTorchSharp" })
            if (NativeLibrary.TryLoad(candidate, assembly, null, out var handle) && NativeLibrary.TryGetExport(handle, name, out var export))
                return export;
        var beside = Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so");
        if (NativeLibrary.TryLoad(beside, out var h) && NativeLibrary.TryGetExport(h, name, out var e)) return e;
        throw new InvalidOperationException($"LibTorchSharp's {name} export was not found");
    }

    /// <summary>The device address of a tensor's first element.</summary>
    public nint DataPointer(Tensor t) => _dataPtr(t.Handle);

    private void Check(int code, string what)
    {
        if (code == 0) return;
        var message = Marshal.PtrToStringUTF8(_lastError()) ?? "";
        throw new InvalidOperationException($"fused kernel {what} failed ({code}): {message}");
    }

    /// <summary>The dtype code of the kernels (0 float32, 1 bfloat16), or -1 for a dtype they lack.</summary>
    public static int DTypeCode(ScalarType t) => t switch { ScalarType.Float32 => 0, ScalarType.BFloat16 => 1, _ => -1 };

    /// <summary>
    /// True when the fused kernels can take this tensor: on their device, contiguous, float32 or bfloat16
    /// (or, for state tensors, the given dtype).
    /// </summary>
    public bool Accepts(Tensor t, ScalarType? dtype = null) =>
        OnItsDevice(t) && t.is_contiguous()
        && (dtype is { } d ? t.dtype == d : DTypeCode(t.dtype) >= 0);

    /// <summary>One AdamW step over tensors of one dtype, each (p, g, m, v) of one shape; scalars as <see cref="AdamWScalars"/>.</summary>
    public void AdamW(IReadOnlyList<(Tensor P, Tensor G, Tensor M, Tensor V)> items, in AdamWScalars s)
    {
        if (items.Count == 0) return;
        var n = items.Count;
        var p = new nint[n]; var g = new nint[n]; var m = new nint[n]; var v = new nint[n]; var numel = new long[n];
        for (var i = 0; i < n; i++)
        {
            (p[i], g[i], m[i], v[i]) = (DataPointer(items[i].P), DataPointer(items[i].G), DataPointer(items[i].M), DataPointer(items[i].V));
            numel[i] = items[i].P.numel();
        }
        var scalars = s.Pack();
        fixed (nint* pp = p, gp = g, mp = m, vp = v)
        fixed (long* np = numel)
        fixed (float* sp = scalars)
            Check(_adamw(Device, DTypeCode(items[0].P.dtype), n, pp, gp, mp, vp, np, sp), "hk_adamw");
    }

    /// <summary>True when the library has FORGE's tile-fused linear step (<c>hk_forge_adamw</c>, <see cref="ForgeAdamW"/>).</summary>
    public bool HasForgeTile => _forgeAdamW != null;

    /// <summary>
    /// FORGE's tile-fused AdamW step of one linear weight <paramref name="p"/> [rows, cols]: the weight gradient
    /// <c>dyᵀ·x</c> (x [tokens, cols], dy [tokens, rows], both of p's dtype) is formed tile by tile inside the kernel and
    /// consumed there, plus <paramref name="pending"/> (fp32 [rows, cols]) when given, times the fp32 scalar
    /// <paramref name="clip"/> when given, with the roundings of the slab path (see the kernel's comment); no gradient
    /// tensor is allocated. All tensors contiguous on the kernels' device. <paramref name="tile"/>: the output tile edge,
    /// 64 or 32, or 0 to let the kernel choose.
    /// </summary>
    public void ForgeAdamW(Tensor x, Tensor dy, Tensor? pending, Tensor? clip, Tensor p, Tensor m, Tensor v, in AdamWScalars s, int tile = 0)
    {
        if (_forgeAdamW == null) throw new InvalidOperationException($"{LibraryPath} has no hk_forge_adamw; delete it to rebuild");
        if (p.dim() != 2 || x.dim() != 2 || dy.dim() != 2)
            throw new ArgumentException("FORGE tile step: p, x and dy must be matrices");
        var (rows, cols, tokens) = (p.shape[0], p.shape[1], x.shape[0]);
        if (x.shape[1] != cols || dy.shape[0] != tokens || dy.shape[1] != rows)
            throw new ArgumentException($"FORGE tile step: x [{string.Join(",", x.shape)}] and dy [{string.Join(",", dy.shape)}] do not fit a [{rows},{cols}] weight");
        if (pending is not null && !pending.shape.SequenceEqual(p.shape))
            throw new ArgumentException($"FORGE tile step: pending [{string.Join(",", pending.shape)}] is not the weight's shape", nameof(pending));
        var scalars = s.Pack();
        fixed (float* sp = scalars)
            Check(_forgeAdamW(Device, DTypeCode(p.dtype), rows, cols, tokens, tile, DataPointer(x), DataPointer(dy),
                pending is null ? 0 : DataPointer(pending), clip is null ? 0 : DataPointer(clip),
                DataPointer(p), DataPointer(m), DataPointer(v), sp), "hk_forge_adamw");
    }

    /// <summary>
    /// True when <paramref name="x"/> and <paramref name="dy"/> suit <see cref="ForgeTensorCore"/>'s 16-byte operand copies:
    /// bfloat16 on the kernels' device, contiguous, 16-byte aligned (a view with a storage offset may not be).
    /// </summary>
    public bool AcceptsTensorCoreOperands(Tensor x, Tensor dy) =>
        Accepts(x, ScalarType.BFloat16) && Accepts(dy, ScalarType.BFloat16) && DataPointer(x) % 16 == 0 && DataPointer(dy) % 16 == 0;

    /// <summary>True when the library has FORGE's tensor-core tile step (<c>hk_forge_tc</c>, <see cref="ForgeTensorCore"/>).</summary>
    public bool HasForgeTensorCore => _forgeTc != null;

    /// <summary>
    /// FORGE's tensor-core tile step of one linear weight <paramref name="p"/> [rows, cols] (float32 master weights or bfloat16):
    /// the weight gradient <c>dyᵀ·x</c> from bfloat16 x [tokens, cols] and dy [tokens, rows] on mma.sync with fp32
    /// accumulation, rounded to bf16 as the slab path's GEMM output, plus <paramref name="pending"/>, times
    /// <paramref name="clip"/>, consumed in the kernel's epilogue by <paramref name="kind"/>: AdamW with m, v of p's dtype,
    /// AdamW with bfloat16 m, v stored by stochastic rounding (stream <paramref name="seed"/>), or 8-bit Adam (m, v the
    /// uint8 codes, <paramref name="a1"/>, <paramref name="a2"/> the absmax per block). <paramref name="scalars"/>: AdamW's
    /// (<see cref="AdamWScalars.Pack"/>) or 8-bit Adam's (<see cref="Adam8bitScalars"/>, with <paramref name="maps"/> = its
    /// code books and midpoints). rows and cols multiples of 8 (8-bit Adam: cols a multiple of 128). <paramref name="splits"/>:
    /// token splits per tile (0: chosen from the device's multiprocessors).
    /// </summary>
    public void ForgeTensorCore(ForgeTileKind kind, Tensor x, Tensor dy, Tensor? pending, Tensor? clip, Tensor p, Tensor m, Tensor v,
        Tensor? a1, Tensor? a2, float[] scalars, int[]? ints, IReadOnlyList<Tensor>? maps, ulong seed, int splits = 0)
    {
        if (_forgeTc == null) throw new InvalidOperationException($"{LibraryPath} has no hk_forge_tc; delete it to rebuild");
        if (p.dim() != 2 || x.dim() != 2 || dy.dim() != 2)
            throw new ArgumentException("FORGE tensor-core step: p, x and dy must be matrices");
        var (rows, cols, tokens) = (p.shape[0], p.shape[1], x.shape[0]);
        if (x.shape[1] != cols || dy.shape[0] != tokens || dy.shape[1] != rows)
            throw new ArgumentException($"FORGE tensor-core step: x [{string.Join(",", x.shape)}] and dy [{string.Join(",", dy.shape)}] do not fit a [{rows},{cols}] weight");
        if (x.dtype != ScalarType.BFloat16 || dy.dtype != ScalarType.BFloat16)
            throw new ArgumentException($"FORGE tensor-core step: x and dy must be bfloat16 (got {x.dtype}, {dy.dtype})");
        var mapPointers = maps is null ? null : maps.Select(DataPointer).ToArray();
        fixed (float* sp = scalars)
        fixed (int* ip = ints)
        fixed (nint* mp = mapPointers)
            Check(_forgeTc(Device, DTypeCode(p.dtype), (int)kind, rows, cols, tokens, splits, DataPointer(x), DataPointer(dy),
                pending is null ? 0 : DataPointer(pending), clip is null ? 0 : DataPointer(clip), DataPointer(p), DataPointer(m), DataPointer(v),
                a1 is null ? 0 : DataPointer(a1), a2 is null ? 0 : DataPointer(a2), sp, ip, mp, seed), "hk_forge_tc");
    }

    /// <summary>
    /// One 8-bit Adam step over tensors of one parameter dtype: uint8 codes with a float32 absmax per block, or, where
    /// A1 and A2 are null (tensors under <c>min_8bit_size</c>), float32 moments in C1 and C2 (the 32-bit path).
    /// </summary>
    public void Adam8bit(IReadOnlyList<(Tensor P, Tensor G, Tensor C1, Tensor C2, Tensor? A1, Tensor? A2)> items,
        Tensor code1, Tensor code2, Tensor mid1, Tensor mid2, in Adam8bitScalars s)
    {
        if (items.Count == 0) return;
        var n = items.Count;
        var p = new nint[n]; var g = new nint[n]; var c1 = new nint[n]; var c2 = new nint[n]; var a1 = new nint[n]; var a2 = new nint[n];
        var numel = new long[n];
        for (var i = 0; i < n; i++)
        {
            var it = items[i];
            (p[i], g[i], c1[i], c2[i]) = (DataPointer(it.P), DataPointer(it.G), DataPointer(it.C1), DataPointer(it.C2));
            if ((it.A1 is null) != (it.A2 is null)) throw new ArgumentException("8-bit Adam: both absmax tensors or neither", nameof(items));
            (a1[i], a2[i]) = it.A1 is null ? (0, 0) : (DataPointer(it.A1), DataPointer(it.A2!));
            numel[i] = it.P.numel();
        }
        var scalars = s.PackFloats();
        var ints = s.PackInts();
        fixed (nint* pp = p, gp = g, c1p = c1, c2p = c2, a1p = a1, a2p = a2)
        fixed (long* np = numel)
        fixed (float* sp = scalars)
        fixed (int* ip = ints)
            Check(_adam8bit(Device, DTypeCode(items[0].P.dtype), n, pp, gp, c1p, c2p, a1p, a2p, np,
                DataPointer(code1), DataPointer(code2), DataPointer(mid1), DataPointer(mid2), sp, ip), "hk_adam8bit");
    }

    /// <summary>One Gefen step (vmean + fused update) over tensors of one parameter dtype and one state dtype.</summary>
    public void Gefen(IReadOnlyList<(Tensor P, Tensor G, Tensor Codes, Tensor Magnitude, Tensor VMean, long Period, long Run)> items,
        Tensor codebook, in GefenScalars s)
    {
        if (items.Count == 0) return;
        var n = items.Count;
        var p = new nint[n]; var g = new nint[n]; var q = new nint[n]; var mag = new nint[n]; var vm = new nint[n];
        var numel = new long[n]; var period = new long[n]; var run = new long[n];
        for (var i = 0; i < n; i++)
        {
            var it = items[i];
            (p[i], g[i], q[i], mag[i], vm[i]) = (DataPointer(it.P), DataPointer(it.G), DataPointer(it.Codes), DataPointer(it.Magnitude), DataPointer(it.VMean));
            (numel[i], period[i], run[i]) = (it.P.numel(), it.Period, it.Run);
        }
        var scalars = new[] { s.Beta2, s.W2, s.W1, s.Decay, s.InvBc2Sqrt, s.Eps, s.InvBc1, s.Lr, s.ApplyDecay ? 1f : 0f };
        fixed (nint* pp = p, gp = g, qp = q, mp = mag, vp = vm)
        fixed (long* np = numel, pr = period, rp = run)
        fixed (float* sp = scalars)
            Check(_gefen(Device, DTypeCode(items[0].P.dtype), DTypeCode(items[0].VMean.dtype), n, pp, gp, qp, mp, vp, np, pr, rp,
                DataPointer(codebook), sp), "hk_gefen");
    }

    /// <summary>Device-to-device copy bandwidth in bytes (read + written) per second: the median of <paramref name="reps"/> copies.</summary>
    /// <summary>True when the library has Q-GaLore's fused weight write-back (<see cref="QGaLoreRequantize"/>).</summary>
    public bool HasQGaLoreRequantize => _requant != null;

    /// <summary>
    /// Q-GaLore's weight write-back in one launch: <c>W' = W + alpha·U</c>, then <c>W' + decayAlpha·W'</c> when
    /// <paramref name="decayAlpha"/> ≠ 0, re-quantized per group (<paramref name="format"/>) into <paramref name="stored"/>'s
    /// codes, scales and zero points, or onto the grid in <paramref name="dense"/> when <paramref name="stored"/> is null;
    /// stochastic rounding from the <see cref="Quantization.CounterUniform"/> stream <paramref name="noiseKey"/>, to nearest
    /// without one. A group whose W' equals W keeps its codes (values). The same values as
    /// <see cref="Quantization.TiledRequantizer.Update"/> with <see cref="LowRank.LowRankAdam.Apply"/> (tested on the
    /// emulated build). <paramref name="update"/> is contiguous, of the dense dtype.
    /// </summary>
    public void QGaLoreRequantize(Tensor dense, Quantization.QuantizedWeight? stored, Tensor update, float alpha, float decayAlpha,
        Quantization.QuantizedWeightFormat format, ulong? noiseKey)
    {
        ArgumentNullException.ThrowIfNull(dense);
        ArgumentNullException.ThrowIfNull(update);
        ArgumentNullException.ThrowIfNull(format);
        if (_requant == null) throw new InvalidOperationException($"{LibraryPath} has no hk_qgalore_requant; delete it to rebuild");
        if (!update.is_contiguous() || update.dtype != dense.dtype || update.numel() != dense.numel())
            throw new ArgumentException("the update must be contiguous, of the weight's dtype and size", nameof(update));
        if (stored is null && !dense.is_contiguous()) throw new ArgumentException("a dense weight must be contiguous", nameof(dense));
        var (mul, add) = noiseKey is { } key ? Quantization.CounterUniform.StreamConstants(key) : (0u, 0u);
        Check(_requant(Device, DTypeCode(dense.dtype), dense.numel(), format.GroupSize, format.Bits,
            stored is null ? DataPointer(dense) : 0, stored is null ? 0 : DataPointer(stored.Codes), stored is null ? 0 : DataPointer(stored.Scales),
            stored is null ? 0 : DataPointer(stored.Zeros), DataPointer(update), alpha, decayAlpha, noiseKey is null ? 0 : 1, mul, add), "hk_qgalore_requant");
    }

    public double CopyBandwidth(long bytes, int reps)
    {
        double result;
        Check(_copyBandwidth(Device, bytes, reps, &result), "hk_copy_bandwidth");
        return result;
    }

    public void Dispose() => NativeLibrary.Free(_library);
}

/// <summary>AdamW's per-step scalars, each formed in double and rounded to float as TorchSharp passes them to the tensor ops.</summary>
public readonly record struct AdamWScalars(float Decay, float W1, float Beta2, float W2, float InvBc2Sqrt, float Eps, float NegStep, bool ApplyDecay)
{
    /// <summary>The scalars in the order <c>hk_adamw</c> and <c>hk_forge_adamw</c> read them (apply_decay as 0/1).</summary>
    public float[] Pack() => [Decay, W1, Beta2, W2, InvBc2Sqrt, Eps, NegStep, ApplyDecay ? 1f : 0f];
}

/// <summary>8-bit Adam's per-step scalars, formed in float32 as the bitsandbytes kernel does.</summary>
public readonly record struct Adam8bitScalars(float Beta1, float Beta2, float W1, float W2, float C2Eps, float StepSize, float Decay,
    float PadCode, bool ApplyDecay, int BlockSize, int Zero1, int Zero2)
{
    /// <summary>The float scalars in the order <c>hk_adam8bit</c> and <c>hk_forge_tc</c> read them (apply_decay as 0/1).</summary>
    public float[] PackFloats() => [Beta1, Beta2, W1, W2, C2Eps, StepSize, Decay, PadCode, ApplyDecay ? 1f : 0f];

    /// <summary>The integer scalars in the order <c>hk_adam8bit</c> and <c>hk_forge_tc</c> read them.</summary>
    public int[] PackInts() => [BlockSize, Zero1, Zero2];
}

/// <summary>Gefen's per-step scalars (double → float, as the tensor-ops path passes them).</summary>
public readonly record struct GefenScalars(float Beta2, float W2, float W1, float Decay, float InvBc2Sqrt, float Eps, float InvBc1, float Lr, bool ApplyDecay);
