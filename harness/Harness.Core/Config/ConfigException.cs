namespace Harness.Core.Config;

/// <summary>One problem in a config file or a <c>--set</c> override, located to the character.</summary>
public sealed record ConfigProblem(string Source, int Line, int Column, string Message)
{
    public override string ToString() => $"{Source}:{Line}:{Column}: {Message}";
}

/// <summary>
/// A config that cannot be used. Carries every problem found (the loader does not stop at the first),
/// each as <c>FILE:LINE:COL: message</c>.
/// </summary>
public sealed class ConfigException(IReadOnlyList<ConfigProblem> problems)
    : Exception(string.Join(Environment.NewLine, problems))
{
    public IReadOnlyList<ConfigProblem> Problems { get; } = problems;
}
