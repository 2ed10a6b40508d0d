using Harness.Core.Planning;
using Harness.Results;

namespace Harness.Core.Running;

/// <summary>Progress of a sweep, for whoever shows it (the CLI); the library itself never prints.</summary>
public interface IRunObserver
{
    void RunStarting(PlannedRun run, int index, int total);
    void RunSkipped(PlannedRun run, int index, int total, string reason);
    /// <param name="tokensPerSecond">Throughput over the steps so far (warm-up excluded), when known.</param>
    /// <param name="remaining">Estimated time left in this run, when known.</param>
    void Progress(PlannedRun run, StepRecord record, int totalSteps, double? tokensPerSecond, TimeSpan? remaining);
    void RunFinished(PlannedRun run, RunStatus status, string? message);
}

/// <summary>An observer that ignores everything (tests, library use).</summary>
public sealed class NullRunObserver : IRunObserver
{
    public void RunStarting(PlannedRun run, int index, int total) { }
    public void RunSkipped(PlannedRun run, int index, int total, string reason) { }
    public void Progress(PlannedRun run, StepRecord record, int totalSteps, double? tokensPerSecond, TimeSpan? remaining) { }
    public void RunFinished(PlannedRun run, RunStatus status, string? message) { }
}
