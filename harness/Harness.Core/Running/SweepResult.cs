using Harness.Results;

namespace Harness.Core.Running;

/// <summary>How a sweep ended: the status of every planned run (reused completed runs included).</summary>
public sealed record SweepResult(IReadOnlyList<(string RunId, RunStatus Status)> Runs, int Reused)
{
    public int Count(RunStatus status) => Runs.Count(r => r.Status == status);

    /// <summary>True when every run that could run has completed (skips with a reason do not count as failures).</summary>
    public bool AllCompleted => Runs.All(r => r.Status is RunStatus.Completed or RunStatus.Skipped);
}
