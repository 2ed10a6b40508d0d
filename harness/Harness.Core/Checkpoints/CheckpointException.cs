namespace Harness.Core.Checkpoints;

/// <summary>A checkpoint that cannot be used: truncated, corrupt, or written for another optimizer or model. Names the file.</summary>
public sealed class CheckpointException(string path, string problem, Exception? inner = null)
    : Exception($"{path}: {problem}", inner)
{
    public string FilePath { get; } = path;
    public string Problem { get; } = problem;
}
