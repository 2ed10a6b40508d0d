namespace Harness.Core.Config;

/// <summary>Collects problems in the order found, dropping exact repeats (a base option shared by every sweep point).</summary>
internal sealed class ProblemList
{
    private readonly List<ConfigProblem> _problems = [];
    private readonly HashSet<ConfigProblem> _seen = [];

    public int Count => _problems.Count;
    public IReadOnlyList<ConfigProblem> All => _problems;

    public void Add(SourceMark at, string message)
    {
        var problem = new ConfigProblem(at.Source, at.Line, at.Column, message);
        if (_seen.Add(problem)) _problems.Add(problem);
    }
}
