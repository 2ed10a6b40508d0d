namespace Harness.Experiments.Data;

/// <summary>
/// Bad or missing data: a missing file, an empty corpus, a wrong magic number, a truncated file, a
/// corpus too short for one sequence. The message names the file (or pattern) and what to do about it;
/// the CLI prints it as one line and exits 2.
/// </summary>
public sealed class DataException : Exception
{
    public DataException(string path, string problem, Exception? inner = null)
        : base($"{path}: {problem}", inner)
    {
        Path = path;
        Problem = problem;
    }

    /// <summary>The file, pattern or dataset name the problem is about.</summary>
    public string Path { get; }

    /// <summary>What is wrong, without the path.</summary>
    public string Problem { get; }
}
