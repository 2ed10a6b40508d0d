using Harness.Core.Config;
using Harness.Core.Devices;
using Harness.Core.Planning;
using Harness.Results;
using static TorchSharp.torch;

namespace Harness.Core.Running;

/// <summary>
/// Runs a plan one run at a time. Completed runs found on disk are reused, not rerun; runs the planner
/// skipped get a manifest with their reason, so the summary shows why a cell is empty. The summary is
/// rebuilt after every run, so results are on disk as soon as they exist. Unfinished runs resume from
/// their checkpoint. The experiment folder is locked for the whole sweep, so a second harness process on
/// the same folder is refused (<see cref="ExperimentLockedException"/>) instead of interleaving writes.
/// </summary>
public sealed class SweepRunner(ResultStore store, IRunObserver observer, string? cacheDirectory = null, IFaultInjector? faults = null,
    Distributed.ICollective? collective = null)
{
    public SweepResult Run(ExperimentConfig config, IReadOnlyList<PlannedRun> plan, Device device, Provenance provenance, CancellationToken cancel) =>
        Run(config, plan, DeviceSession.Basic(device), provenance, cancel);

    public SweepResult Run(ExperimentConfig config, IReadOnlyList<PlannedRun> plan, DeviceSession session, Provenance provenance, CancellationToken cancel)
    {
        // A devices: N result must come from N ranks: one process would train alone under the N-device run id.
        if (config.Devices != (collective?.WorldSize ?? 1))
            throw new ArgumentException($"{config.Name}: devices {config.Devices}, but this process is one of {collective?.WorldSize ?? 1} rank(s); "
                + "'harness run' starts one process per GPU");
        using var folderLock = store.Lock(config.Name);
        var executor = new RunExecutor(store, session, provenance, observer, cacheDirectory, faults, collective);
        var results = new List<(string, RunStatus)>();
        var reused = 0;
        for (var i = 0; i < plan.Count; i++)
        {
            var run = plan[i];
            var existing = store.TryReadManifest(config.Name, run.RunId);
            if (run.SkipReason is { } reason)
            {
                if (existing?.Status != RunStatus.Skipped)
                    store.WriteManifest(SkippedManifest(config, run, provenance, reason));
                observer.RunSkipped(run, i, plan.Count, reason);
                results.Add((run.RunId, RunStatus.Skipped));
                continue;
            }
            if (existing?.Status == RunStatus.Completed)
            {
                observer.RunSkipped(run, i, plan.Count, "already completed");
                results.Add((run.RunId, RunStatus.Completed));
                reused++;
                continue;
            }
            observer.RunStarting(run, i, plan.Count);
            session.ReleaseBetweenRuns();
            try
            {
                results.Add((run.RunId, executor.Execute(config, run, cancel)));
            }
            finally
            {
                store.RebuildSummary(config.Name);
            }
        }
        store.RebuildSummary(config.Name);
        return new SweepResult(results, reused);
    }

    private static RunManifest SkippedManifest(ExperimentConfig config, PlannedRun run, Provenance provenance, string reason) =>
        RunExecutor.NewManifest(config, run, provenance, RunStatus.Skipped) with { Message = reason, EndedUtc = DateTimeOffset.UtcNow };
}
