using Harness.Core.Planning;
using Harness.Results;
using Harness.Core.Running;

namespace Harness.Tests.Reliability;

/// <summary>A fault injector for tests: throws the exception a rule gives for a (run, step), else nothing.</summary>
internal sealed class InjectedFaults(Func<PlannedRun, int, Exception?> beforeStep) : IFaultInjector
{
    public List<string> Seen { get; } = [];

    public void BeforeStep(PlannedRun run, int step)
    {
        if (beforeStep(run, step) is { } e) throw e;
    }

    public void MidCheckpointWrite(PlannedRun run, int step) => Seen.Add($"checkpoint {run.Variant.Label} {step}");
    public void AfterRun(PlannedRun run, RunStatus status) => Seen.Add($"end {run.Variant.Label} {status}");
}
