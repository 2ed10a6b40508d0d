using System.Security.Cryptography;
using System.Text;

namespace Harness.Core.Devices;

/// <summary>
/// Builds the host-emulated fused-kernel library: <c>optimizers/kernels/harness_optim_kernels.cu</c> compiled by g++ with
/// <c>-DHK_EMULATED</c> (the CUDA shim <c>hk_emulation.h</c>: every CUDA thread a host thread, device pointers host
/// memory), so <c>implementation: cuda-fused</c> runs on CPU tensors. The one recipe of that build: the test suite and
/// <c>HARNESS_EMULATED_KERNELS=1</c> runs both use it. Cached under <c>native/emulated-KEY</c> of the cache root, KEY a
/// hash of every file of the kernels folder (a header change rebuilds), the compiler's version and the flags; written
/// to a temporary name and renamed, so two processes building at once cannot leave a torn library.
/// </summary>
/// <remarks>
/// The emulation keeps its launch state (block and grid sizes, the running block's barriers) in globals of the
/// library, and every load of the same file shares them: one launch at a time, which the runner (one run at a time,
/// one thread) and the tests (one xUnit collection) keep. It checks the kernels' logic, not their speed: a step is
/// orders of magnitude slower than the tensor ops.
/// </remarks>
/// <param name="source">The kernels' <c>.cu</c>; every file beside it is part of the key.</param>
/// <param name="compiler">The C++ compiler (g++ 12 or newer: the shim needs C++20's std::barrier).</param>
public sealed class EmulatedKernelBuilder(string source, string cacheRoot, string compiler = "g++")
{
    /// <summary>Set to 1 (or true) to attach the emulated kernels to CPU runs; read by the CLI only.</summary>
    public const string EnvironmentVariable = "HARNESS_EMULATED_KERNELS";

    public const string LibraryName = "libharness_optim_kernels_emulated.so";

    /// <summary>True for the values of <see cref="EnvironmentVariable"/> that ask for the emulated kernels.</summary>
    public static bool Requested(string? value) => value?.Trim() is "1" or "true";

    /// <summary>
    /// The compiler's arguments: C++20, no FMA contraction (a·b + c is never fused unless the source says fmaf, as the
    /// CUDA build rounds), a shared library with pthreads, the shim selected by <c>HK_EMULATED</c>.
    /// </summary>
    public IReadOnlyList<string> Arguments(string output) =>
    [
        "-std=c++20", "-O1", "-ffp-contract=off", "-shared", "-fPIC", "-pthread", "-Wno-unknown-pragmas",
        "-DHK_EMULATED", "-x", "c++", "-I", Path.GetDirectoryName(Path.GetFullPath(source))!, source, "-o", output,
    ];

    /// <summary>The cache key: every file of the kernels folder (name and bytes, in name order), the compiler version, the flags.</summary>
    public string Key(string compilerVersion)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var dir = Path.GetDirectoryName(Path.GetFullPath(source))!;
        foreach (var file in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            hash.AppendData(Encoding.UTF8.GetBytes(Path.GetRelativePath(dir, file) + "\n"));
            hash.AppendData(File.ReadAllBytes(file));
            hash.AppendData("\n"u8);
        }
        hash.AppendData(Encoding.UTF8.GetBytes(compilerVersion + "\n" + string.Join(' ', Arguments(""))));
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }

    /// <summary>Builds the library (or finds it in the cache): its path, or why there is none.</summary>
    public NativeBuild EnsureBuilt()
    {
        if (!File.Exists(source)) return new(null, $"fused-kernel source {source} not found");
        var version = HostCommand.Run(compiler, "-dumpfullversion", 30);
        if (!version.Ok) return new(null, $"{compiler} not found or not runnable ({version.StdErr.Trim()}): the emulated kernels need a C++20 compiler");
        var dir = Path.Combine(cacheRoot, "native", "emulated-" + Key(version.StdOut.Trim()));
        var target = Path.Combine(dir, LibraryName);
        if (File.Exists(target)) return new(target, $"cached build {target}");
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, $".{Environment.ProcessId}.{Guid.NewGuid():N}.so");
        var r = HostCommand.Run(compiler, string.Join(' ', Arguments(tmp).Select(Quote)), 600);
        if (!r.Ok || !File.Exists(tmp))
        {
            if (File.Exists(tmp)) File.Delete(tmp);
            var tail = string.Join(" | ", (r.StdOut + r.StdErr).Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(3));
            return new(null, $"{compiler} failed to build the emulated kernels: {tail}");
        }
        File.Move(tmp, target, overwrite: true);
        return new(target, $"built {target}");
    }

    private static string Quote(string a) => a.Contains(' ', StringComparison.Ordinal) || a.Contains('"', StringComparison.Ordinal)
        ? "\"" + a.Replace("\"", "\\\"", StringComparison.Ordinal) + "\"" : a;
}
