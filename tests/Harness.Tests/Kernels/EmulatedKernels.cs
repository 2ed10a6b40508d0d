using System.Diagnostics;
using Harness.Optimizers.Kernels;

namespace Harness.Tests.Kernels;

/// <summary>
/// Builds the host-emulated fused-kernel library once per test run: optimizers/kernels/harness_optim_kernels.cu
/// compiled by g++ with the CUDA shim (every CUDA thread a host thread), so the kernels' logic is checked
/// against the tensor-ops optimizers on a machine without a GPU.
/// </summary>
public sealed class EmulatedKernels : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"hk-emu-{Environment.ProcessId}-{Guid.NewGuid():N}");

    public EmulatedKernels()
    {
        Directory.CreateDirectory(_dir);
        var source = Path.Combine(TestPaths.RepoRoot(), "optimizers", "kernels", "harness_optim_kernels.cu");
        LibraryPath = Path.Combine(_dir, "libhk_emulated.so");
        var psi = new ProcessStartInfo("g++")
        {
            RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false,
        };
        foreach (var a in new[] { "-std=c++20", "-O1", "-ffp-contract=off", "-shared", "-fPIC", "-pthread", "-Wno-unknown-pragmas",
                     "-DHK_SYNTAX_CHECK", "-x", "c++", "-I", Path.GetDirectoryName(source)!, source, "-o", LibraryPath })
            psi.ArgumentList.Add(a);
        using var gcc = Process.Start(psi) ?? throw new InvalidOperationException("g++ did not start");
        var errors = gcc.StandardError.ReadToEndAsync();
        gcc.StandardOutput.ReadToEnd();
        gcc.WaitForExit();
        if (gcc.ExitCode != 0) throw new InvalidOperationException($"g++ could not build the emulated kernels:\n{errors.Result}");
        Kernels = new FusedKernels(LibraryPath, 0);
    }

    public string LibraryPath { get; }
    public FusedKernels Kernels { get; }

    public void Dispose()
    {
        Kernels.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
