using System.Diagnostics;
using System.IO.Compression;
using System.Xml.Linq;
using Harness.Tests.Core;

namespace Harness.Tests.Optimizers;

/// <summary><c>dotnet pack optimizers/Harness.Optimizers</c> gives a package a TorchSharp user can take as it is.</summary>
public sealed class PackageTests
{
    [Fact]
    public async Task The_package_holds_its_metadata_readme_and_every_kernel_source()
    {
        var root = TestPaths.RepoRoot();
        var project = Path.Combine(root, "optimizers", "Harness.Optimizers", "Harness.Optimizers.csproj");
        // bin/<Configuration>/net10.0/: pack the build this test run already has, so packing takes seconds.
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
        using var dir = new TestConfigs.TempDir();
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["pack", project, "-c", configuration, "--no-build", "--no-restore", "--nologo", "-o", dir.Path])
            info.ArgumentList.Add(a);
        info.Environment["DOTNET_NOLOGO"] = "1";
        using (var p = Process.Start(info)!)
        {
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            Assert.True(p.WaitForExit(TimeSpan.FromSeconds(120)), "dotnet pack did not finish in 120 s");
            Assert.True(p.ExitCode == 0, $"dotnet pack failed: {await stdout}{await stderr}");
        }

        var package = Assert.Single(Directory.GetFiles(dir.Path, "*.nupkg"));
        using var zip = ZipFile.OpenRead(package);
        var nuspec = XDocument.Load(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
        var ns = nuspec.Root!.Name.Namespace;
        var metadata = nuspec.Root.Element(ns + "metadata")!;
        string Meta(string name) => metadata.Element(ns + name)?.Value ?? "";
        Assert.Equal("Harness.Optimizers", Meta("id"));
        Assert.Matches(@"^\d+\.\d+\.\d+", Meta("version"));
        Assert.Equal($"Harness.Optimizers.{Meta("version")}.nupkg", Path.GetFileName(package));
        Assert.NotEmpty(Meta("authors"));
        Assert.Contains("TorchSharp", Meta("description"));
        Assert.Contains("torchsharp", Meta("tags").Split(' '));
        Assert.Equal("git", metadata.Element(ns + "repository")?.Attribute("type")?.Value);
        Assert.Equal("README.md", Meta("readme"));
        // TorchSharp is what it needs; nothing of the harness comes along.
        var dependencies = metadata.Descendants(ns + "dependency").Select(d => d.Attribute("id")!.Value).ToList();
        Assert.Contains("TorchSharp", dependencies);
        Assert.DoesNotContain(dependencies, d => d.StartsWith("Harness", StringComparison.Ordinal));

        using (var readme = new StreamReader(zip.GetEntry("README.md")!.Open()))
            Assert.Equal(File.ReadAllText(Path.Combine(root, "optimizers", "Harness.Optimizers", "README.md")), readme.ReadToEnd());

        // Every file of optimizers/kernels (any depth), byte for byte, copied to the consumer's output.
        var kernels = Path.Combine(root, "optimizers", "kernels");
        var sources = Directory.GetFiles(kernels, "*", SearchOption.AllDirectories);
        Assert.Contains(sources, s => s.EndsWith(".cu", StringComparison.Ordinal));
        var copied = metadata.Element(ns + "contentFiles")!.Elements(ns + "files")
            .Where(f => f.Attribute("copyToOutput")?.Value == "true").Select(f => f.Attribute("include")!.Value).ToHashSet();
        foreach (var source in sources)
        {
            var relative = Path.GetRelativePath(kernels, source).Replace(Path.DirectorySeparatorChar, '/');
            var entry = zip.GetEntry($"contentFiles/any/any/kernels/{relative}");
            Assert.True(entry is not null, $"kernels/{relative} is not in the package");
            using var packed = new MemoryStream();
            using (var s = entry.Open()) s.CopyTo(packed);
            Assert.Equal(File.ReadAllBytes(source), packed.ToArray());
            Assert.Contains($"any/any/kernels/{relative}", copied);
        }
        Assert.Contains(zip.Entries, e => e.FullName == "lib/net10.0/Harness.Optimizers.dll");
    }
}
