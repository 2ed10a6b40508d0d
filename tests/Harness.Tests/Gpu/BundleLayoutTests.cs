using Harness.Core.Bundle;
using Harness.Tests.Core;

namespace Harness.Tests.Gpu;

public sealed class BundleLayoutTests
{
    [Fact]
    public void Assembling_a_bundle_adds_the_launcher_configs_and_native_sources_and_lists_every_file()
    {
        using var dir = new TestConfigs.TempDir();
        var bin = Path.Combine(dir.Path, "bin");
        Directory.CreateDirectory(bin);
        File.WriteAllText(Path.Combine(bin, "harness"), "binary");
        File.WriteAllText(Path.Combine(bin, "Harness.Core.pdb"), "symbols");

        var files = BundleAssembler.Assemble(TestPaths.RepoRoot(), dir.Path);

        string[] required = ["harness", "bin/harness", "configs/quickstart.yaml", "configs/gpu/quickstart-60m.yaml", "native/harness_cuda_probe.cpp", "native/harness_forge.cpp", "kernels/harness_optim_kernels.cu", "README.md"];
        Assert.All(required, f => Assert.Contains(f, files));
        var kernels = Path.Combine(TestPaths.RepoRoot(), "optimizers", "kernels");
        Assert.All(Directory.EnumerateFiles(kernels), f => Assert.Contains($"kernels/{Path.GetFileName(f)}", files));
        Assert.DoesNotContain(files, f => f.EndsWith(".pdb", StringComparison.Ordinal));
        Assert.DoesNotContain(files, f => f.Contains("/bin/Release/", StringComparison.Ordinal) || f.Contains("/obj/", StringComparison.Ordinal));
        var listed = File.ReadAllLines(Path.Combine(dir.Path, "FILES.txt")).Select(l => l.Trim().Split(' ', 2)[1]).ToList();
        Assert.Equal(files, listed);
        Assert.Contains("HARNESS_LIBTORCH", File.ReadAllText(Path.Combine(dir.Path, "harness")));
        if (!OperatingSystem.IsWindows())
            Assert.True(File.GetUnixFileMode(Path.Combine(dir.Path, "harness")).HasFlag(UnixFileMode.UserExecute));
    }

    [Fact]
    public void Assembling_without_a_published_binary_is_refused()
    {
        using var dir = new TestConfigs.TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => BundleAssembler.Assemble(TestPaths.RepoRoot(), dir.Path));
        Assert.Contains("publish the CLI", e.Message);
    }
}
