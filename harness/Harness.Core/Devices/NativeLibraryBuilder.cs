using System.Security.Cryptography;
using System.Text;

namespace Harness.Core.Devices;

/// <summary>The outcome of building (or finding) a native library: its path, or why there is none.</summary>
public sealed record NativeBuild(string? LibraryPath, string Status);

/// <summary>
/// The host's nvcc (path and version) and GPU (name and compute capability), what every native build needs for
/// its command and cache key; <see cref="Problem"/> says why there is no usable nvcc. <see cref="Query"/> runs two
/// subprocesses, so a session queries once and shares the result among its builds (probe, kernels, FORGE).
/// </summary>
public sealed record NativeToolchain(string? Nvcc, string NvccVersion, string Gpu, string? Problem)
{
    public static NativeToolchain Query()
    {
        var nvcc = FindNvcc();
        if (nvcc is null) return new(null, "", "", "nvcc not found on PATH, in $CUDA_HOME/bin or /usr/local/cuda/bin");
        var version = HostCommand.Run(nvcc, "--version", 30);
        if (!version.Ok) return new(null, "", "", $"{nvcc} --version failed");
        var gpu = HostCommand.Run("nvidia-smi", "--query-gpu=name,compute_cap --format=csv,noheader", 30);
        return new(nvcc, (version.StdOut + version.StdErr).Trim(), (gpu.StdOut + gpu.StdErr).Trim(), null);
    }

    private static string? FindNvcc()
    {
        var candidates = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => Path.Combine(p, "nvcc"))
            .Append(Path.Combine(Environment.GetEnvironmentVariable("CUDA_HOME") ?? "/usr/local/cuda", "bin", "nvcc"))
            .Append("/usr/local/cuda/bin/nvcc");
        return candidates.FirstOrDefault(File.Exists);
    }
}

/// <summary>
/// Builds a native CUDA source of the harness (harness/native/harness_cuda_probe.cpp, the probe,
/// optimizers/kernels/harness_optim_kernels.cu, the fused optimizer steps, or harness/native/harness_forge.cpp,
/// FORGE's native autograd function) with the host's nvcc against the host PyTorch, on first CUDA use, and
/// caches it under a hash of the source and the headers beside it (<see cref="KeyFiles"/>), the torch version,
/// the nvcc version and the GPU (and the link libraries, where a source names its own), so a changed source,
/// header, PyTorch or GPU gives a fresh build. Writes
/// to a temporary name and renames, so two processes building at once cannot leave a torn library.
/// </summary>
/// <param name="linkLibraries">The libraries the source links (<c>-l</c> flags); null for <see cref="DefaultLinkLibraries"/>.</param>
/// <param name="toolchain">The session's toolchain query, shared by its builds; null to query it here when needed.</param>
public sealed class NativeLibraryBuilder(string sourceFile, string cacheRoot, LibTorchInfo libTorch, string libraryName = NativeLibraryBuilder.ProbeLibraryName,
    string? linkLibraries = null, Lazy<NativeToolchain>? toolchain = null)
{
    public const string ProbeLibraryName = "libharness_cuda_probe.so";
    public const string KernelsLibraryName = "libharness_optim_kernels.so";

    /// <summary>FORGE's native autograd function (harness/native/harness_forge.cpp).</summary>
    public const string ForgeLibraryName = "libharness_forge.so";

    /// <summary>What the probe and the kernels link: the CUDA allocator and runtime.</summary>
    public const string DefaultLinkLibraries = "-lc10_cuda -lc10 -lcudart";

    /// <summary>What the FORGE function links: libtorch's autograd (custom functions live in torch_cpu) and c10.</summary>
    public const string ForgeLinkLibraries = "-ltorch -ltorch_cpu -lc10";

    /// <summary>The link libraries this build uses.</summary>
    public string LinkLibraries { get; } = string.IsNullOrWhiteSpace(linkLibraries) ? DefaultLinkLibraries : linkLibraries.Trim();

    /// <summary>
    /// The nvcc arguments of a build (for the record and the tests): shared, position-independent, the host
    /// PyTorch's include folders, its lib folder as the search path and run path, then <see cref="LinkLibraries"/>.
    /// </summary>
    public string Arguments(string torchDir, string output) => string.Join(' ',
        $"-O3 -shared -Xcompiler -fPIC -std={CxxStandard(torchDir)} -arch=native -D_GLIBCXX_USE_CXX11_ABI=1",
        $"-I\"{torchDir}/include\" -I\"{torchDir}/include/torch/csrc/api/include\"",
        $"-L\"{libTorch.LibDir}\" -Xlinker -rpath -Xlinker \"{libTorch.LibDir}\" {LinkLibraries}",
        $"-o \"{output}\" \"{sourceFile}\"");

    /// <summary>
    /// c++17, or c++20 where the host PyTorch's headers demand it (newer releases stop with an #error under
    /// C++17): read from the headers, so the same source builds against either.
    /// </summary>
    public static string CxxStandard(string torchDir)
    {
        // The #error text of those releases; a mere `__cplusplus >= 202002L` feature test does not count.
        foreach (var header in new[] { "ATen/ATen.h", "torch/csrc/api/include/torch/all.h", "c10/util/C++17.h", "c10/macros/Macros.h" })
        {
            var path = Path.Combine(torchDir, "include", header);
            if (File.Exists(path) && File.ReadAllText(path).Contains("C++20 or later compatible compiler is required", StringComparison.Ordinal))
                return "c++20";
        }
        return "c++17";
    }

    public NativeBuild EnsureBuilt()
    {
        if (!File.Exists(sourceFile)) return new(null, $"probe source {sourceFile} not found");
        if (libTorch.TorchDir is not { } torch) return new(null, "no host PyTorch (HARNESS_LIBTORCH unset): the CPU package has no CUDA headers");
        if (!File.Exists(Path.Combine(torch, "include", "c10", "cuda", "CUDACachingAllocator.h")))
            return new(null, $"no CUDA headers under {torch}/include (a CPU-only PyTorch?)");
        var tools = toolchain?.Value ?? NativeToolchain.Query();
        if (tools.Nvcc is not { } nvcc) return new(null, tools.Problem!);
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
            string.Join("\n", KeyParts(libTorch.Version ?? "", tools.NvccVersion, tools.Gpu)))))[..16];
        var dir = Path.Combine(cacheRoot, "native", key);
        var target = Path.Combine(dir, libraryName);
        if (File.Exists(target)) return new(target, $"cached build {target}");
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, $".{Environment.ProcessId}.{Guid.NewGuid():N}.so");
        var (ok, output) = Run(nvcc, Arguments(torch, tmp), 600);
        if (!ok || !File.Exists(tmp))
        {
            if (File.Exists(tmp)) File.Delete(tmp);
            var tail = string.Join(" | ", output.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(3));
            return new(null, $"nvcc failed: {tail}");
        }
        File.Move(tmp, target, overwrite: true);
        return new(target, $"built {target}");
    }

    /// <summary>Extensions of the headers a native source may include from its own folder.</summary>
    public static readonly IReadOnlySet<string> HeaderExtensions = new HashSet<string>(StringComparer.Ordinal) { ".h", ".cuh", ".hpp" };

    /// <summary>
    /// The files whose contents the cache key hashes: the source, then every header in its folder by name (the
    /// kernels' source includes its headers; a header change must rebuild, not load a stale library), and the other
    /// sources of the source's own extension there (<c>harness_optim_kernels_tc.cu</c> includes
    /// <c>harness_optim_kernels.cu</c>).
    /// </summary>
    public static IReadOnlyList<string> KeyFiles(string sourceFile)
    {
        var full = Path.GetFullPath(sourceFile);
        var dir = Path.GetDirectoryName(full)!;
        var extension = Path.GetExtension(full);
        var included = Directory.EnumerateFiles(dir)
            .Where(f => HeaderExtensions.Contains(Path.GetExtension(f)) || extension == ".cu" && Path.GetExtension(f) == ".cu" && Path.GetFullPath(f) != full)
            .Order(StringComparer.Ordinal);
        return [sourceFile, .. included];
    }

    /// <summary>
    /// What the cache key hashes: the source's text, each header as its name and text (a source without headers
    /// keys as before), then the toolchain; the default link libraries add nothing (the probe's key is that of
    /// earlier builds), others are appended so a change of them rebuilds.
    /// </summary>
    private IEnumerable<string> KeyParts(string torchVersion, string nvccVersion, string gpu)
    {
        var files = KeyFiles(sourceFile);
        IEnumerable<string> parts = [File.ReadAllText(files[0]), .. files.Skip(1).SelectMany(h => new[] { Path.GetFileName(h), File.ReadAllText(h) }),
            torchVersion, nvccVersion, gpu];
        return LinkLibraries == DefaultLinkLibraries ? parts : parts.Append(LinkLibraries);
    }

    private static (bool Ok, string Output) Run(string file, string args, int timeoutSeconds)
    {
        var r = HostCommand.Run(file, args, timeoutSeconds);
        return (r.Ok, r.StdOut + r.StdErr);
    }
}
