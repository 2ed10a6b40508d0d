using Harness.Core.Planning;
using Harness.Results;
using Harness.Core.Running;
using Spectre.Console;

namespace Harness.Cli.Output;

/// <summary>A live Spectre.Console bar per run (step, loss, tokens/s, ETA) for interactive terminals.</summary>
public sealed class LiveProgress(ProgressContext context) : IRunObserver
{
    private ProgressTask? _task;

    public void RunStarting(PlannedRun run, int index, int total)
    {
        _task = context.AddTask(Markup.Escape($"[{index + 1}/{total}] {run.Variant.Label} s{run.Seed}"), maxValue: 1);
        _task.StartTask();
    }

    public void RunSkipped(PlannedRun run, int index, int total, string reason) =>
        AnsiConsole.MarkupLine($"[grey]{Markup.Escape($"[{index + 1}/{total}] {run.Variant.Label} seed {run.Seed}: skipped, {reason}")}[/]");

    public void Progress(PlannedRun run, StepRecord record, int totalSteps, double? tokensPerSecond, TimeSpan? remaining)
    {
        if (_task is null) return;
        _task.MaxValue = totalSteps;
        _task.Value = record.Step;
        _task.Description = Markup.Escape(PlainProgress.Describe(run, record, totalSteps, tokensPerSecond, remaining).Trim());
    }

    public void RunFinished(PlannedRun run, RunStatus status, string? message)
    {
        if (_task is null) return;
        var color = status == RunStatus.Completed ? "green" : "red";
        _task.Description = $"[{color}]{Markup.Escape($"{run.Variant.Label} s{run.Seed}: {status.ToString().ToLowerInvariant()}{(message is null ? "" : $" ({message})")}")}[/]";
        _task.Value = _task.MaxValue;
        _task.StopTask();
        _task = null;
    }
}
