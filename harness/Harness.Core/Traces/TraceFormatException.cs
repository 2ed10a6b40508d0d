namespace Harness.Core.Traces;

/// <summary>
/// A trace or manifest file that cannot be used: truncated, corrupt, or not matching what the checker
/// needs. The message always names the file and the problem.
/// </summary>
public sealed class TraceFormatException : Exception
{
    public TraceFormatException(string path, string problem, Exception? inner = null)
        : base($"{path}: {problem}", inner)
    {
        FilePath = path;
        Problem = problem;
    }

    /// <summary>The file at fault.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong with it.</summary>
    public string Problem { get; }
}
