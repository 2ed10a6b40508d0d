namespace Harness.Experiments.Data;

/// <summary>
/// Where data paths are resolved: <paramref name="BaseDirectory"/> for relative paths in a config (the
/// config file's folder), <paramref name="CacheDirectory"/> for token files and prepared datasets (null:
/// tokenize in memory and use no prepared data). The CLI decides both; library code never reads the environment.
/// </summary>
public sealed record DataLocations(string? BaseDirectory, string? CacheDirectory)
{
    public static DataLocations None { get; } = new(null, null);

    /// <summary><paramref name="path"/> made absolute against <see cref="BaseDirectory"/> (or the working directory).</summary>
    public string Resolve(string path) =>
        Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(BaseDirectory ?? Directory.GetCurrentDirectory(), path));
}
