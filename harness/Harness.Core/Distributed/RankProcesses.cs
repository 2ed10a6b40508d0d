using System.Diagnostics;

namespace Harness.Core.Distributed;

/// <summary>
/// Runs the rank processes of a data-parallel launch and waits for them. When one exits with an error the others get
/// <c>grace</c> to notice (their collectives fail or time out) and are then killed, so a failed rank never leaves the
/// run hanging. The processes share the console.
/// </summary>
public static class RankProcesses
{
    /// <summary>How a launch ended: each rank's exit code, by rank, and the first rank that failed (null when none).</summary>
    public sealed record Outcome(IReadOnlyList<int> ExitCodes, int? FirstFailedRank)
    {
        /// <summary>One line for the console, or null when every rank succeeded.</summary>
        public string? Problem => FirstFailedRank is { } r
            ? $"rank {r} exited with code {ExitCodes[r]}; ranks {string.Join(", ", ExitCodes.Select((c, i) => $"{i}: {c}"))}"
            : null;
    }

    public static Outcome Run(IReadOnlyList<RankLaunch.RankCommand> commands, TimeSpan grace, CancellationToken cancel = default)
    {
        var processes = new List<Process>();
        try
        {
            foreach (var c in commands)
            {
                var info = new ProcessStartInfo(c.FileName) { UseShellExecute = false };
                foreach (var a in c.Arguments) info.ArgumentList.Add(a);
                foreach (var (k, v) in c.Environment) info.Environment[k] = v;
                processes.Add(Process.Start(info) ?? throw new InvalidOperationException($"could not start rank {c.Rank}: {c.FileName}"));
            }
            int? failed = null;
            DateTime? killAt = null;
            while (processes.Any(p => !p.HasExited))
            {
                if (killAt is null)
                {
                    var bad = processes.FindIndex(p => p.HasExited && p.ExitCode != 0);
                    if (bad >= 0) failed = bad;
                    if (bad >= 0 || cancel.IsCancellationRequested) killAt = DateTime.UtcNow + grace;
                }
                if (killAt is { } at && DateTime.UtcNow >= at)
                    foreach (var p in processes.Where(p => !p.HasExited)) p.Kill(entireProcessTree: true);
                Thread.Sleep(50);
            }
            var codes = processes.Select(p => p.ExitCode).ToList();
            failed ??= codes.FindIndex(c => c != 0) is var i and >= 0 ? i : null;
            return new Outcome(codes, failed);
        }
        finally
        {
            foreach (var p in processes)
            {
                if (!p.HasExited) p.Kill(entireProcessTree: true);
                p.Dispose();
            }
        }
    }
}
