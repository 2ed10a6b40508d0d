namespace Harness.Core.Checks;

/// <summary>The outcome of one named check: passed or not, and a one-line account of what was measured against which bound.</summary>
public sealed record CheckResult(string Name, bool Ok, string Detail);
