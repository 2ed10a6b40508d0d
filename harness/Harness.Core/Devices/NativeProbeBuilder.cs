using System.Security.Cryptography;
using System.Text;

namespace Harness.Core.Devices;

/// <summary>The outcome of building (or finding) the native probe: its path, or why there is none.</summary>
public sealed record ProbeBuild(string? LibraryPath, string Status);

/// <summary>
/// Builds a native CUDA source of the harness (harness/native/harness_cuda_probe.cpp, the probe, or
/// optimizers/kernels/harness_optim_kernels.cu, the fused optimizer steps) with the host's nvcc against the
/// host PyTorch, on first CUDA use, and caches it under a hash of the source, the torch version, the nvcc
/// version and the GPU, so a changed source, PyTorch or GPU gives a fresh build. Writes to a temporary
/// name and renames, so two processes building at once cannot leave a torn library.
/// </summary>
public sealed class NativeProbeBuilder(string sourceFile, string cacheRoot, LibTorchInfo libTorch, string libraryName = NativeProbeBuilder.LibraryName)
{
    public const string LibraryName = "libharness_cuda_probe.so";
    public const string KernelsLibraryName = "libharness_optim_kernels.so";

    public ProbeBuild EnsureBuilt()
    {
        if (!File.Exists(sourceFile)) return new(null, $"probe source {sourceFile} not found");
        if (libTorch.TorchDir is not { } torch) return new(null, "no host PyTorch (HARNESS_LIBTORCH unset): the CPU package has no CUDA headers");
        if (!File.Exists(Path.Combine(torch, "include", "c10", "cuda", "CUDACachingAllocator.h")))
            return new(null, $"no CUDA headers under {torch}/include (a CPU-only PyTorch?)");
        var nvcc = FindNvcc();
        if (nvcc is null) return new(null, "nvcc not found on PATH, in $CUDA_HOME/bin or /usr/local/cuda/bin");
        var (nvccOk, nvccVersion) = Run(nvcc, "--version", 30);
        if (!nvccOk) return new(null, $"{nvcc} --version failed");
        var (_, gpu) = Run("nvidia-smi", "--query-gpu=name,compute_cap --format=csv,noheader", 30);
        var source = File.ReadAllText(sourceFile);
        var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
            string.Join("\n", source, libTorch.Version ?? "", nvccVersion.Trim(), gpu.Trim()))))[..16];
        var dir = Path.Combine(cacheRoot, "native", key);
        var target = Path.Combine(dir, libraryName);
        if (File.Exists(target)) return new(target, $"cached build {target}");
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, $".{Environment.ProcessId}.{Guid.NewGuid():N}.so");
        var args = string.Join(' ',
            "-O3 -shared -Xcompiler -fPIC -std=c++17 -arch=native -D_GLIBCXX_USE_CXX11_ABI=1",
            $"-I\"{torch}/include\" -I\"{torch}/include/torch/csrc/api/include\"",
            $"-L\"{libTorch.LibDir}\" -Xlinker -rpath -Xlinker \"{libTorch.LibDir}\" -lc10_cuda -lc10 -lcudart",
            $"-o \"{tmp}\" \"{sourceFile}\"");
        var (ok, output) = Run(nvcc, args, 600);
        if (!ok || !File.Exists(tmp))
        {
            if (File.Exists(tmp)) File.Delete(tmp);
            var tail = string.Join(" | ", output.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(3));
            return new(null, $"nvcc failed: {tail}");
        }
        File.Move(tmp, target, overwrite: true);
        return new(target, $"built {target}");
    }

    private static string? FindNvcc()
    {
        var candidates = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => Path.Combine(p, "nvcc"))
            .Append(Path.Combine(Environment.GetEnvironmentVariable("CUDA_HOME") ?? "/usr/local/cuda", "bin", "nvcc"))
            .Append("/usr/local/cuda/bin/nvcc");
        return candidates.FirstOrDefault(File.Exists);
    }

    private static (bool Ok, string Output) Run(string file, string args, int timeoutSeconds)
    {
        var r = HostCommand.Run(file, args, timeoutSeconds);
        return (r.Ok, r.StdOut + r.StdErr);
    }
}
