using Harness.Core.Devices;

namespace Harness.Core.Distributed;

/// <summary>
/// Finds the host's NCCL and builds harness/native/harness_nccl.cpp against it and the host PyTorch, on first
/// data-parallel use (cached like the probe and the kernels: the key hashes the source, the toolchain and the link line).
/// NCCL is looked for where PyTorch's wheels put it (<c>site-packages/nvidia/nccl</c> beside <c>torch</c>), under
/// <c>$NCCL_HOME</c>, then in the system folders.
/// </summary>
public static class NcclLibrary
{
    public const string LibraryName = "libharness_nccl.so";
    public const string HomeVariable = "NCCL_HOME";
    public static readonly string[] SourceRelative = [Path.Combine("native", "harness_nccl.cpp"), Path.Combine("harness", "native", "harness_nccl.cpp")];

    /// <summary>The (include, lib) folders holding <c>nccl.h</c> and <c>libnccl.so.2</c>, or null.</summary>
    public static (string Include, string Lib)? Find(string torchDir, string? ncclHome)
    {
        var roots = new List<string>();
        if (!string.IsNullOrEmpty(ncclHome)) roots.Add(ncclHome);
        roots.Add(Path.Combine(Path.GetDirectoryName(torchDir.TrimEnd('/')) ?? torchDir, "nvidia", "nccl"));
        roots.Add("/usr");
        roots.Add("/usr/local");
        foreach (var root in roots)
        {
            var include = Path.Combine(root, "include");
            var lib = new[] { Path.Combine(root, "lib"), Path.Combine(root, "lib", "x86_64-linux-gnu"), Path.Combine(root, "lib64") }
                .FirstOrDefault(d => File.Exists(Path.Combine(d, "libnccl.so.2")));
            if (File.Exists(Path.Combine(include, "nccl.h")) && lib is not null) return (include, lib);
        }
        return null;
    }

    /// <summary>The link line: NCCL's folders first (nvcc passes -I and -L through), then NCCL, PyTorch's stream, the runtime.</summary>
    public static string LinkLibraries((string Include, string Lib) nccl) =>
        $"-I\"{nccl.Include}\" -L\"{nccl.Lib}\" -Xlinker -rpath -Xlinker \"{nccl.Lib}\" -l:libnccl.so.2 {NativeLibraryBuilder.DefaultLinkLibraries}";

    /// <summary>Builds (or finds cached) the library; the status says why not when the path is null.</summary>
    public static NativeBuild EnsureBuilt(string cacheRoot, LibTorchInfo libTorch, string? ncclHome)
    {
        if (DeviceSession.FindSource(SourceRelative) is not { } source) return new(null, "harness_nccl.cpp not found beside the binaries or in the repository");
        if (libTorch.TorchDir is not { } torch) return new(null, "no host PyTorch (HARNESS_LIBTORCH unset): NCCL and the CUDA headers come from it");
        if (Find(torch, ncclHome) is not { } nccl)
            return new(null, $"NCCL not found (nccl.h + libnccl.so.2 under ${HomeVariable}, {torch}/../nvidia/nccl, /usr or /usr/local)");
        return new NativeLibraryBuilder(source, cacheRoot, libTorch, LibraryName, LinkLibraries(nccl)).EnsureBuilt();
    }
}
