using System.CommandLine;
using Harness.Reports;

namespace Harness.Cli.Commands;

/// <summary><c>harness report DIR</c>: the report of an experiment folder, from its stored results only.</summary>
public static class ReportCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("dir") { Description = "an experiment folder, e.g. runs/quickstart" };
        var command = new Command("report", "write report/ (summary.csv, charts as PNG and SVG, report.md, report.html) from stored results") { dir };
        command.SetAction(parse =>
        {
            var path = parse.GetValue(dir)!;
            if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"{path}: no such experiment folder");
            var output = ReportBuilder.Build(path);
            foreach (var file in output.Files) Console.WriteLine($"wrote {file}");
            return ExitCodes.Ok;
        });
        return command;
    }
}
