namespace Harness.Core.Config;

/// <summary>Collects problems in the order found, dropping exact repeats (a base option shared by every sweep point).</summary>
internal sealed class ProblemList
{
    private readonly List<ConfigProblem> _problems = [];
    private readonly HashSet<ConfigProblem> _seen = [];
    private int _dropped;
    private SourceMark? _firstDropped;

    /// <summary>Past this many, problems are counted, not listed: a hostile file can hold a million.</summary>
    public const int MaxListed = 100;

    public int Count => _problems.Count + _dropped;

    public IReadOnlyList<ConfigProblem> All => _dropped == 0 || _firstDropped is not { } at
        ? _problems
        : [.. _problems, new ConfigProblem(at.Source, at.Line, at.Column, $"... and {_dropped:N0} more problem(s) from here on, not listed")];

    public void Add(SourceMark at, string message)
    {
        if (_problems.Count >= MaxListed)
        {
            _firstDropped ??= at;
            _dropped++;
            return;
        }
        var problem = new ConfigProblem(at.Source, at.Line, at.Column, message);
        if (_seen.Add(problem)) _problems.Add(problem);
    }
}
