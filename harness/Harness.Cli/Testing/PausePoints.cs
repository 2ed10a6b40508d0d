using System.Globalization;
using Harness.Core.Planning;
using Harness.Results;
using Harness.Core.Running;

namespace Harness.Cli.Testing;

/// <summary>
/// The hidden <c>--pause-at</c> option's fault injector, for crash tests: at the named point it prints
/// <c>harness: paused at POINT</c> on stderr and blocks forever, so a test can SIGKILL the process at
/// exactly that point. Points (R = the run's position in the plan, from 0; N = a step):
/// <c>before-step:R:N</c>, <c>mid-checkpoint:R:N</c> (half the checkpoint file written), <c>after-run:R</c>.
/// </summary>
public sealed class PausePoints(IReadOnlyList<PlannedRun> plan, string point) : IFaultInjector
{
    /// <summary>The problem with a point's syntax, or null when it is well-formed.</summary>
    public static string? Check(string point)
    {
        var parts = point.Split(':');
        bool Number(string s) => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out _);
        var ok = parts switch
        {
            ["before-step" or "mid-checkpoint", var r, var n] => Number(r) && Number(n),
            ["after-run", var r] => Number(r),
            _ => false,
        };
        return ok ? null : $"--pause-at: expected before-step:R:N, mid-checkpoint:R:N or after-run:R, got '{point}'";
    }

    public void BeforeStep(PlannedRun run, int step) => PauseIf($"before-step:{Index(run)}:{step}");
    public void MidCheckpointWrite(PlannedRun run, int step) => PauseIf($"mid-checkpoint:{Index(run)}:{step}");
    public void AfterRun(PlannedRun run, RunStatus status) => PauseIf($"after-run:{Index(run)}");

    private int Index(PlannedRun run)
    {
        for (var i = 0; i < plan.Count; i++)
            if (plan[i].RunId == run.RunId) return i;
        return -1;
    }

    private void PauseIf(string here)
    {
        if (here != point) return;
        Console.Error.WriteLine($"harness: paused at {here}");
        Console.Error.Flush();
        Thread.Sleep(Timeout.Infinite);
    }
}
