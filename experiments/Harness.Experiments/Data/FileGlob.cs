namespace Harness.Experiments.Data;

/// <summary>
/// Expands a path whose last segment may hold <c>*</c> and <c>?</c> (e.g. <c>shards/*.parquet</c>); a
/// <c>**</c> folder segment before it searches below that folder. Results are sorted ordinally, so the
/// document order (and thus the token stream) does not depend on the file system.
/// </summary>
public static class FileGlob
{
    public static bool IsPattern(string path) => path.IndexOfAny(['*', '?']) >= 0;

    /// <exception cref="DataException">No file matches, or the folder does not exist.</exception>
    public static IReadOnlyList<string> Expand(string absolutePattern)
    {
        var directory = Path.GetDirectoryName(absolutePattern) ?? ".";
        var pattern = Path.GetFileName(absolutePattern);
        var option = SearchOption.TopDirectoryOnly;
        if (Path.GetFileName(directory) == "**")
        {
            directory = Path.GetDirectoryName(directory) ?? ".";
            option = SearchOption.AllDirectories;
        }
        if (IsPattern(directory))
            throw new DataException(absolutePattern, "wildcards are allowed only in the file name (and as a '**' folder just before it)");
        if (!Directory.Exists(directory)) throw new DataException(absolutePattern, $"folder {directory} not found");
        var files = Directory.GetFiles(directory, pattern, option);
        if (files.Length == 0) throw new DataException(absolutePattern, "no file matches this pattern");
        Array.Sort(files, StringComparer.Ordinal);
        return files;
    }
}
