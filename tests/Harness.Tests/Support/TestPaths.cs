namespace Harness.Tests;

/// <summary>Locations the tests need: the repository root and the shared golden traces beside it.</summary>
internal static class TestPaths
{
    /// <summary>The folder holding Harness.sln, found by walking up from the test binaries.</summary>
    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Harness.sln"))) return dir.FullName;
        throw new InvalidOperationException($"Harness.sln not found above {AppContext.BaseDirectory}");
    }
}
