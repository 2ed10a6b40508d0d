namespace Harness.Results;

/// <summary>A results file that cannot be read (truncated, corrupt or of another shape); names the file.</summary>
public sealed class ResultFormatException(string path, string problem, Exception? inner = null)
    : Exception($"{path}: {problem}", inner)
{
    public string Path { get; } = path;
}
