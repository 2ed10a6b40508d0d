namespace Harness.Core.Checks;

/// <summary>One check's outcome: its name, whether it passed, and what was measured (one line).</summary>
public sealed record CheckResult(string Name, bool Ok, string Detail);
