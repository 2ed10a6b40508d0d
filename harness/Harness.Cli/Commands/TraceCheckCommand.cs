using System.CommandLine;
using Harness.Core.Traces;

namespace Harness.Cli.Commands;

/// <summary>
/// <c>harness trace-check MANIFEST --optimizer KEY | --all</c>: replays golden traces through our
/// optimizers; exit 0 when every checked trace is within its tolerance, 1 otherwise.
/// </summary>
public static class TraceCheckCommand
{
    public static Command Create()
    {
        var manifest = new Argument<string>("manifest") { Description = "a golden-trace manifest, e.g. ../shared/golden/caseA.manifest.json" };
        var optimizer = new Option<string?>("--optimizer") { Description = "the manifest's optimizer key (adamw, galore, ...)" };
        var all = new Option<bool>("--all") { Description = "check every optimizer in the manifest" };
        var command = new Command("trace-check", "replay golden reference trajectories through our optimizers") { manifest, optimizer, all };
        command.SetAction(parse =>
        {
            var path = parse.GetValue(manifest)!;
            var key = parse.GetValue(optimizer);
            var checkAll = parse.GetValue(all);
            if (checkAll == (key is not null))
            {
                Console.Error.WriteLine("harness: trace-check: give exactly one of --optimizer KEY or --all");
                return ExitCodes.BadInput;
            }
            if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such manifest");
            var checker = new TraceChecker();
            var reports = checkAll ? checker.CheckAll(path) : [checker.Check(path, key!)];
            foreach (var report in reports) Console.WriteLine(report.ToTable());
            return reports.All(r => r.Status != TraceStatus.Failed) && reports.Any(r => r.Status == TraceStatus.Passed)
                ? ExitCodes.Ok
                : ExitCodes.Failed;
        });
        return command;
    }
}
