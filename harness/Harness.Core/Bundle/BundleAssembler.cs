namespace Harness.Core.Bundle;

/// <summary>
/// Completes a published GPU bundle (<c>bin/</c> from <c>dotnet publish</c>): the launcher script, the
/// configs, the native sources built on the host, and a <c>FILES.txt</c> listing every file with its
/// size, so what was shipped can be checked.
/// </summary>
public static class BundleAssembler
{
    /// <summary>Files and folders (relative to the repository) copied into every bundle.</summary>
    public static IReadOnlyList<(string From, string To)> Extras { get; } =
    [
        ("tools/harness-launcher.sh", "harness"),
        ("configs", "configs"),
        ("harness/native", "native"),
        ("optimizers/kernels", "kernels"),
        ("README.md", "README.md"),
    ];

    /// <summary>Copies the extras into <paramref name="bundleDir"/> and returns the bundle's file list (relative paths, sorted).</summary>
    public static IReadOnlyList<string> Assemble(string repoRoot, string bundleDir)
    {
        var binary = Path.Combine(bundleDir, "bin", "harness");
        if (!File.Exists(binary)) throw new FileNotFoundException($"{binary}: not found; publish the CLI into {bundleDir}/bin first");
        foreach (var (from, to) in Extras)
        {
            var source = Path.Combine(repoRoot, from);
            var target = Path.Combine(bundleDir, to);
            if (Directory.Exists(source)) CopyTree(source, target);
            else if (File.Exists(source)) File.Copy(source, target, overwrite: true);
            else throw new FileNotFoundException($"{source}: not found in the repository");
        }
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(Path.Combine(bundleDir, "harness"),
            UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        // Debug symbols are not shipped: the bundle must stay small enough to carry to a GPU host.
        foreach (var pdb in Directory.EnumerateFiles(bundleDir, "*.pdb", SearchOption.AllDirectories)) File.Delete(pdb);
        var files = Directory.EnumerateFiles(bundleDir, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(bundleDir, f))
            .Where(f => f != "FILES.txt")
            .Order(StringComparer.Ordinal)
            .ToList();
        File.WriteAllLines(Path.Combine(bundleDir, "FILES.txt"),
            files.Select(f => $"{new FileInfo(Path.Combine(bundleDir, f)).Length,12} {f}"));
        return files;
    }

    private static void CopyTree(string source, string target)
    {
        Directory.CreateDirectory(target);
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var rel = Path.GetRelativePath(source, file);
            if (rel.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj")) continue;
            var dest = Path.Combine(target, rel);
            Directory.CreateDirectory(Path.GetDirectoryName(dest)!);
            File.Copy(file, dest, overwrite: true);
        }
    }
}
