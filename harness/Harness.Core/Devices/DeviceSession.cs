using Harness.Core.Running;
using Harness.Optimizers.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace Harness.Core.Devices;

/// <summary>
/// What a sweep needs from its device: the TorchSharp device, a memory probe (exact allocator statistics
/// from the native probe, device-level sampling as the fallback, none on CPU), timelines for step times
/// (CUDA events, or the host clock) and a synchronisation. <see cref="ProbeStatus"/> says which of these
/// is in use, for the manifest and the metrics' notes.
/// </summary>
public sealed class DeviceSession : IDisposable
{
    private readonly CudaProbe? _native;

    private DeviceSession(Device device, IDeviceMemoryProbe? memory, CudaProbe? native, string probeStatus,
        FusedKernels? kernels = null, string? kernelStatus = null, NativeForge? forge = null, string? forgeStatus = null)
    {
        Device = device;
        Memory = memory;
        _native = native;
        ProbeStatus = probeStatus;
        Kernels = kernels;
        KernelStatus = kernelStatus ?? (device.type == DeviceType.CUDA ? "fused kernels not requested"
            : $"cpu: no fused CUDA kernels ({EmulatedKernelBuilder.EnvironmentVariable}=1 attaches their host-emulated build)");
        Forge = forge;
        ForgeStatus = forgeStatus ?? (device.type == DeviceType.CUDA
            ? "managed FORGE function (native one not requested)"
            : "managed FORGE function (cpu: no native build)");
    }

    public Device Device { get; }

    /// <summary>The fused CUDA optimizer kernels, or null (CPU, or they could not be built; see <see cref="KernelStatus"/>).</summary>
    public FusedKernels? Kernels { get; }
    public string KernelStatus { get; }

    /// <summary>
    /// FORGE's native autograd function (<c>harness/native/harness_forge.cpp</c>) for <c>step_mode: fused_backward</c>,
    /// or null (CPU, <c>HARNESS_NO_NATIVE_FORGE=1</c>, or it could not be built; see <see cref="ForgeStatus"/>), in
    /// which case the fused layers take the managed TorchSharp function.
    /// </summary>
    public NativeForge? Forge { get; }
    public string ForgeStatus { get; }
    public IDeviceMemoryProbe? Memory { get; }
    public string ProbeStatus { get; }
    public bool IsCuda => Device.type == DeviceType.CUDA;

    /// <summary>A fresh timeline: CUDA events with the native probe, else the host clock (synchronised on CUDA).</summary>
    public ITimeline NewTimeline() =>
        _native?.Timeline() ?? (IsCuda ? new SynchronizingTimeline(Synchronize) : new HostTimeline());

    public void Synchronize()
    {
        if (_native is not null) _native.Synchronize();
        else if (IsCuda) cuda.synchronize(Device);
    }

    /// <summary>
    /// Between runs: frees what the finished run left to the garbage collector and returns the allocator's
    /// cache, so each run's reserved bytes and peaks start from the same place.
    /// </summary>
    public void ReleaseBetweenRuns()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        _native?.EmptyCache();
    }

    /// <summary>A session without the native probe (CPU, or CUDA with device-level memory sampling).</summary>
    public static DeviceSession Basic(Device device) => device.type == DeviceType.CUDA
        ? new DeviceSession(device, new DriverMemoryProbe(), null, "device-level memory (cuMemGetInfo sampling); no native probe requested")
        : new DeviceSession(device, null, null, "cpu: no allocator statistics");

    /// <summary>
    /// A session without a memory probe whose optimizers get <paramref name="kernels"/> (owned, and disposed, by the
    /// session): on CPU, the host-emulated build of the kernels, as the test suite runs them.
    /// </summary>
    public static DeviceSession WithKernels(Device device, FusedKernels kernels, string kernelStatus) =>
        new(device, null, null, "no allocator statistics (a session opened with given kernels)", kernels, kernelStatus);

    /// <summary>
    /// Opens a session; on CUDA it builds (or reuses) the native probe and falls back to device-level
    /// sampling, saying why, when it cannot. On CPU with <paramref name="emulatedKernels"/> (the CLI's
    /// <see cref="EmulatedKernelBuilder.EnvironmentVariable"/>) it attaches the host-emulated build of the fused kernels,
    /// so <c>implementation: cuda-fused</c> runs there (slowly: for verification); CUDA sessions ignore it.
    /// </summary>
    public static DeviceSession Open(Device device, LibTorchInfo libTorch, string? probeSource, string cacheRoot, bool emulatedKernels = false)
    {
        if (device.type != DeviceType.CUDA)
        {
            if (!emulatedKernels) return Basic(device);
            var (emulated, status) = OpenEmulatedKernels(FindSource(KernelsSourceRelative), cacheRoot);
            return new DeviceSession(device, null, null, "cpu: no allocator statistics", emulated, status);
        }
        // The caching allocator initialises lazily: allocate once so its statistics exist before the first reset.
        using (var warm = zeros(1, device: device)) { }
        var index = device.index < 0 ? 0 : device.index;
        // nvcc and the GPU are queried once (two subprocesses) for the three native builds.
        var toolchain = new Lazy<NativeToolchain>(NativeToolchain.Query);
        var tensorCores = Environment.GetEnvironmentVariable(ForgeTensorCoresVariable) is "1" or "true";
        var (kernels, kernelStatus) = OpenKernels(FindSource(tensorCores ? KernelsTensorCoreSourceRelative : KernelsSourceRelative), cacheRoot, libTorch,
            index, toolchain);
        var (forge, forgeStatus) = OpenForge(FindSource(ForgeSourceRelative), cacheRoot, libTorch, toolchain);
        var build = probeSource is null
            ? new NativeBuild(null, "probe source not found beside the binaries")
            : new NativeLibraryBuilder(probeSource, cacheRoot, libTorch, toolchain: toolchain).EnsureBuilt();
        if (build.LibraryPath is { } path)
        {
            try
            {
                var probe = new CudaProbe(path, index);
                return new DeviceSession(device, probe, probe, $"allocator statistics and CUDA events from the native probe ({build.Status})", kernels, kernelStatus,
                    forge, forgeStatus);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or InvalidOperationException or BadImageFormatException)
            {
                build = new NativeBuild(null, $"{path} did not load: {e.Message}");
            }
        }
        return new DeviceSession(device, new DriverMemoryProbe(), null, $"device-level memory (cuMemGetInfo sampling): {build.Status}", kernels, kernelStatus,
            forge, forgeStatus);
    }

    /// <summary>Where the fused-kernel source lives, relative to a bundle root or the repository root.</summary>
    public static readonly string[] KernelsSourceRelative = [Path.Combine("kernels", "harness_optim_kernels.cu"), Path.Combine("optimizers", "kernels", "harness_optim_kernels.cu")];

    /// <summary>
    /// The same library with FORGE's tensor-core tile step (<c>hk_forge_tc</c>), taken on CUDA when
    /// <see cref="ForgeTensorCoresVariable"/> is 1: that kernel has not yet been compiled and checked on a GPU, so the
    /// default build leaves it out (the emulated CPU build always has it).
    /// </summary>
    public static readonly string[] KernelsTensorCoreSourceRelative =
        [Path.Combine("kernels", "harness_optim_kernels_tc.cu"), Path.Combine("optimizers", "kernels", "harness_optim_kernels_tc.cu")];

    /// <summary>Set to 1 to build the fused kernels with FORGE's tensor-core tile step on CUDA.</summary>
    public const string ForgeTensorCoresVariable = "HARNESS_FORGE_TENSOR_CORES";

    /// <summary>Builds (or reuses) and loads the fused optimizer kernels; null with the reason when that fails.</summary>
    public static (FusedKernels? Kernels, string Status) OpenKernels(string? source, string cacheRoot, LibTorchInfo libTorch, int deviceIndex,
        Lazy<NativeToolchain>? toolchain = null)
    {
        if (Environment.GetEnvironmentVariable("HARNESS_NO_FUSED_KERNELS") is "1" or "true")
            return (null, "fused kernels disabled by HARNESS_NO_FUSED_KERNELS");
        if (source is null) return (null, "fused-kernel source not found beside the binaries");
        var build = new NativeLibraryBuilder(source, cacheRoot, libTorch, NativeLibraryBuilder.KernelsLibraryName, toolchain: toolchain).EnsureBuilt();
        if (build.LibraryPath is not { } path) return (null, $"fused kernels unavailable: {build.Status}");
        try
        {
            return (new FusedKernels(path, deviceIndex), $"fused kernels ({build.Status})");
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or InvalidOperationException or BadImageFormatException)
        {
            return (null, $"fused kernels unavailable: {path} did not load: {e.Message}");
        }
    }

    /// <summary>
    /// Builds (or reuses) with g++ and loads the host-emulated fused kernels (<see cref="EmulatedKernelBuilder"/>); null with
    /// the reason when that fails, and <c>cuda-fused</c> then fails its runs saying so.
    /// </summary>
    public static (FusedKernels? Kernels, string Status) OpenEmulatedKernels(string? source, string cacheRoot)
    {
        if (source is null) return (null, "fused-kernel source not found beside the binaries");
        var build = new EmulatedKernelBuilder(source, cacheRoot).EnsureBuilt();
        if (build.LibraryPath is not { } path) return (null, $"emulated kernels unavailable: {build.Status}");
        try
        {
            var kernels = new FusedKernels(path, 0);
            if (kernels.IsEmulated) return (kernels, $"host-emulated fused kernels ({build.Status})");
            kernels.Dispose();
            return (null, $"emulated kernels unavailable: {path} is not an emulated build");
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or InvalidOperationException or BadImageFormatException)
        {
            return (null, $"emulated kernels unavailable: {path} did not load: {e.Message}");
        }
    }

    /// <summary>Where FORGE's native autograd function lives, relative to a bundle root or the repository root.</summary>
    public static readonly string[] ForgeSourceRelative = [Path.Combine("native", "harness_forge.cpp"), Path.Combine("harness", "native", "harness_forge.cpp")];

    /// <summary>Set to 1 (or true) to keep fused_backward on the managed FORGE function even where the native one could be built.</summary>
    public const string NoNativeForgeVariable = "HARNESS_NO_NATIVE_FORGE";

    /// <summary>
    /// Builds (or reuses) and loads FORGE's native autograd function; null with the reason when that fails or is
    /// disabled, and fused_backward then takes the managed function.
    /// </summary>
    public static (NativeForge? Forge, string Status) OpenForge(string? source, string cacheRoot, LibTorchInfo libTorch,
        Lazy<NativeToolchain>? toolchain = null)
    {
        const string fallback = "managed FORGE function";
        if (Environment.GetEnvironmentVariable(NoNativeForgeVariable) is "1" or "true")
            return (null, $"{fallback} (native one disabled by {NoNativeForgeVariable})");
        if (source is null) return (null, $"{fallback} (harness_forge.cpp not found beside the binaries)");
        var build = new NativeLibraryBuilder(source, cacheRoot, libTorch, NativeLibraryBuilder.ForgeLibraryName, NativeLibraryBuilder.ForgeLinkLibraries, toolchain).EnsureBuilt();
        if (build.LibraryPath is not { } path) return (null, $"{fallback} (native one unavailable: {build.Status})");
        try
        {
            return (new NativeForge(path), $"native FORGE autograd function ({build.Status})");
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or InvalidOperationException or BadImageFormatException)
        {
            return (null, $"{fallback} (native one unavailable: {path} did not load: {e.Message})");
        }
    }

    /// <summary>The first of <paramref name="relative"/> found beside the binaries or in a parent folder.</summary>
    public static string? FindSource(IEnumerable<string> relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            foreach (var r in relative)
            {
                var candidate = Path.Combine(dir.FullName, r);
                if (File.Exists(candidate)) return candidate;
            }
        return null;
    }

    /// <summary>Where the probe source lives: beside a bundle's binaries, or in the repository.</summary>
    public static string? FindProbeSource() =>
        FindSource([Path.Combine("native", "harness_cuda_probe.cpp"), Path.Combine("harness", "native", "harness_cuda_probe.cpp")]);

    public void Dispose()
    {
        _native?.Dispose();
        Kernels?.Dispose();
    }
}
