using Harness.Core.Devices;
using Harness.Tests.Core;

namespace Harness.Tests.Gpu;

public sealed class LibTorchDiscoveryTests
{
    private static string FakeTorch(TestConfigs.TempDir dir, string? version, bool cuda)
    {
        var lib = Path.Combine(dir.Path, "torch", "lib");
        Directory.CreateDirectory(lib);
        File.WriteAllText(Path.Combine(lib, "libtorch.so"), "");
        if (cuda) File.WriteAllText(Path.Combine(lib, "libtorch_cuda.so"), "");
        if (version is not null) File.WriteAllText(Path.Combine(dir.Path, "torch", "version.py"), $"__version__ = '{version}'\ndebug = False\n");
        return lib;
    }

    [Fact]
    public void Without_HARNESS_LIBTORCH_the_cpu_package_is_used()
    {
        var info = LibTorchDiscovery.Discover(null);
        Assert.Null(info.LibDir);
        Assert.Null(info.Problem);
        Assert.Contains("libtorch-cpu package", info.Source);
    }

    [Fact]
    public void A_missing_folder_and_a_folder_without_libtorch_are_problems_that_say_what_to_do()
    {
        using var dir = new TestConfigs.TempDir();
        var missing = LibTorchDiscovery.Discover(Path.Combine(dir.Path, "nope"));
        Assert.Contains("does not exist", missing.Problem);
        Assert.Contains("HARNESS_LIBTORCH", missing.Problem);
        var empty = LibTorchDiscovery.Discover(dir.Path);
        Assert.Contains("has no libtorch.so", empty.Problem);
    }

    [Fact]
    public void The_expected_version_with_cuda_is_silent_and_a_newer_minor_is_a_warning()
    {
        using (var dir = new TestConfigs.TempDir())
        {
            var info = LibTorchDiscovery.Discover(FakeTorch(dir, "2.10.0+cu128", cuda: true));
            Assert.Equal("2.10.0+cu128", info.Version);
            Assert.Null(info.Warning);
            Assert.Null(info.Problem);
            Assert.EndsWith("torch", info.TorchDir);
        }
        using (var dir = new TestConfigs.TempDir())
        {
            var info = LibTorchDiscovery.Discover(FakeTorch(dir, "2.11.0+cu130", cuda: true));
            Assert.Null(info.Problem);
            Assert.Contains("host libtorch 2.11.0+cu130 differs from the 2.10", info.Warning);
        }
    }

    [Fact]
    public void A_cpu_only_or_other_major_libtorch_is_reported()
    {
        using (var dir = new TestConfigs.TempDir())
            Assert.Contains("no libtorch_cuda.so", LibTorchDiscovery.Discover(FakeTorch(dir, "2.10.0", cuda: false)).Warning);
        using (var dir = new TestConfigs.TempDir())
            Assert.Contains("another major version", LibTorchDiscovery.Discover(FakeTorch(dir, "3.0.0", cuda: true)).Problem);
        using (var dir = new TestConfigs.TempDir())
            Assert.Contains("no torch/version.py", LibTorchDiscovery.Discover(FakeTorch(dir, null, cuda: true)).Warning);
    }
}
