using System.Globalization;
using Harness.Core.Planning;
using Harness.Results;
using Harness.Core.Running;

namespace Harness.Cli.Output;

/// <summary>Plain, periodic progress lines for logs and CI (no cursor movement, no colour).</summary>
public sealed class PlainProgress(TextWriter output) : IRunObserver
{
    public void RunStarting(PlannedRun run, int index, int total) =>
        output.WriteLine($"[{index + 1}/{total}] {run.Variant.Label} seed {run.Seed} ({run.RunId}): starting");

    public void RunSkipped(PlannedRun run, int index, int total, string reason) =>
        output.WriteLine($"[{index + 1}/{total}] {run.Variant.Label} seed {run.Seed} ({run.RunId}): skipped, {reason}");

    public void Progress(PlannedRun run, StepRecord record, int totalSteps, double? tokensPerSecond, TimeSpan? remaining) =>
        output.WriteLine(Describe(run, record, totalSteps, tokensPerSecond, remaining));

    public void RunFinished(PlannedRun run, RunStatus status, string? message) =>
        output.WriteLine($"  {run.Variant.Label} seed {run.Seed}: {status.ToString().ToLowerInvariant()}{(message is null ? "" : $" ({message})")}");

    internal static string Describe(PlannedRun run, StepRecord r, int totalSteps, double? tokensPerSecond, TimeSpan? remaining)
    {
        var c = CultureInfo.InvariantCulture;
        var parts = new List<string> { $"  {run.Variant.Label} seed {run.Seed} step {r.Step}/{totalSteps}" };
        if (r.TrainLoss is { } loss) parts.Add(string.Create(c, $"loss {loss:F4}"));
        if (r.EvalLoss is { } eval) parts.Add(string.Create(c, $"eval {eval:F4}"));
        if (tokensPerSecond is { } tps) parts.Add(string.Create(c, $"{tps:N0} tok/s"));
        if (remaining is { } eta) parts.Add($"ETA {eta:mm\\:ss}");
        return string.Join("  ", parts);
    }
}
