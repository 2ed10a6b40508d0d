using Harness.Core.Devices;
using Harness.Optimizers.Kernels;

namespace Harness.Tests.Kernels;

/// <summary>
/// The host-emulated fused-kernel library, built once per test run by <see cref="EmulatedKernelBuilder"/> (the same
/// recipe as <c>HARNESS_EMULATED_KERNELS=1</c> runs), so the kernels' logic is checked against the tensor-ops
/// optimizers on a machine without a GPU. Cached under the temporary folder, keyed by the kernels' files, so a
/// second test run reuses the build.
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

    public EmulatedKernels()
    {
        var source = Path.Combine(TestPaths.RepoRoot(), "optimizers", "kernels", "harness_optim_kernels.cu");
        var build = new EmulatedKernelBuilder(source, Path.Combine(Path.GetTempPath(), "harness-tests-cache")).EnsureBuilt();
        LibraryPath = build.LibraryPath ?? throw new InvalidOperationException($"the emulated kernels could not be built: {build.Status}");
        Kernels = new FusedKernels(LibraryPath, 0);
    }

    public string LibraryPath { get; }
    public FusedKernels Kernels { get; }

    public void Dispose() => Kernels.Dispose();
}

/// <summary>One emulated kernel library for every class of <see cref="EmulatedKernels.Collection"/>, whose tests run one at a time.</summary>
[Xunit.CollectionDefinition(EmulatedKernels.Collection)]
public sealed class EmulatedKernelsCollection : Xunit.ICollectionFixture<EmulatedKernels>;
