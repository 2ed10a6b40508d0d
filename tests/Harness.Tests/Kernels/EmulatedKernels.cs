using System.Diagnostics;
using Harness.Optimizers.Kernels;

namespace Harness.Tests.Kernels;

/// <summary>
/// Builds the host-emulated fused-kernel library once per test run: optimizers/kernels/harness_optim_kernels.cu
/// compiled by g++ with the CUDA shim (every CUDA thread a host thread), so the kernels' logic is checked
/// against the tensor-ops optimizers on a machine without a GPU.
/// </summary>
/// <remarks>
/// The emulation keeps its launch state (block and grid sizes, the barriers of the running block) in globals of
/// the library, and libraries built from the same source share those symbols once loaded, so two launches must
/// never run at once: every test class that uses it joins <see cref="Collection"/>, which runs them one after
/// another and builds the library once.
/// </remarks>
public sealed class EmulatedKernels : IDisposable
{
    /// <summary>The xUnit collection of the test classes that launch the emulated kernels.</summary>
    public const string Collection = "emulated kernels";

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
                     "-DHK_EMULATED", "-x", "c++", "-I", Path.GetDirectoryName(source)!, source, "-o", LibraryPath })
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

/// <summary>One emulated kernel library for every class of <see cref="EmulatedKernels.Collection"/>, whose tests run one at a time.</summary>
[Xunit.CollectionDefinition(EmulatedKernels.Collection)]
public sealed class EmulatedKernelsCollection : Xunit.ICollectionFixture<EmulatedKernels>;
