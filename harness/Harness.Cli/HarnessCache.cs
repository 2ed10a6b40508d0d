namespace Harness.Cli;

/// <summary>
/// The data cache (token files, prepared datasets): <c>$HARNESS_CACHE</c> if set, else <c>~/.cache/harness</c>.
/// Read here, in the composition root, and passed down; library code never reads the environment.
/// </summary>
public static class HarnessCache
{
    public static string Directory()
    {
        var fromEnvironment = Environment.GetEnvironmentVariable("HARNESS_CACHE");
        if (!string.IsNullOrWhiteSpace(fromEnvironment)) return Path.GetFullPath(fromEnvironment);
        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "harness");
    }
}
