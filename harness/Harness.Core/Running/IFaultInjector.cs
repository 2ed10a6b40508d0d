using Harness.Core.Planning;
using Harness.Results;

namespace Harness.Core.Running;

/// <summary>
/// A test seam: called at the points where a real sweep can die (before a training step, halfway through
/// writing a checkpoint, after a run ends). An implementation may throw (to simulate an out-of-memory
/// error or a bug) or block (so a test can kill the process there). Given to the runner explicitly; the
/// default <see cref="NoFaults"/> does nothing.
/// </summary>
public interface IFaultInjector
{
    void BeforeStep(PlannedRun run, int step);
    /// <summary>Half of the checkpoint for <paramref name="step"/> is in its temporary file; the old checkpoint is still in place.</summary>
    void MidCheckpointWrite(PlannedRun run, int step);
    void AfterRun(PlannedRun run, RunStatus status);
}

/// <summary>The production injector: no faults.</summary>
public sealed class NoFaults : IFaultInjector
{
    public void BeforeStep(PlannedRun run, int step) { }
    public void MidCheckpointWrite(PlannedRun run, int step) { }
    public void AfterRun(PlannedRun run, RunStatus status) { }
}
