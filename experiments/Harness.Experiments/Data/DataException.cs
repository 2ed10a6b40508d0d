namespace Harness.Experiments.Data;

/// <summary>
/// Bad or missing data: a missing file, an empty corpus, a wrong magic number, a truncated file, a
/// malformed line, a corpus too short for one sequence. The message names the file (or pattern), the
/// line where there is one, and what to do about it; the CLI prints it as one line and exits 2.
/// </summary>
public sealed class DataException : Exception
{
    public DataException(string path, string problem, Exception? inner = null)
        : base($"{path}: {OneLine(problem)}", inner)
    {
        Path = path;
        Problem = OneLine(problem);
    }

    /// <summary>A problem on line <paramref name="line"/> (1-based) of a text file: the message reads <c>path:line: problem</c>.</summary>
    public DataException(string path, long line, string problem, Exception? inner = null)
        : base($"{path}:{line}: {OneLine(problem)}", inner)
    {
        Path = path;
        Line = line;
        Problem = OneLine(problem);
    }

    /// <summary>The file, pattern or dataset name the problem is about.</summary>
    public string Path { get; }

    /// <summary>The 1-based line of <see cref="Path"/> the problem is on, when it is about one line.</summary>
    public long? Line { get; }

    /// <summary>What is wrong, without the path.</summary>
    public string Problem { get; }

    /// <summary>Library messages (JSON, protobuf) can span lines; the CLI prints one.</summary>
    private static string OneLine(string text) =>
        string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
