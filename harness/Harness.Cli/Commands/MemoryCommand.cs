using System.CommandLine;
using System.Globalization;
using Harness.Core.Config;
using Harness.Core.Memory;
using Harness.Results;
using Harness.Reports.Documents;
using Spectre.Console;

namespace Harness.Cli.Commands;

/// <summary><c>harness memory CONFIG [--csv FILE]</c>: weights, gradients and optimizer state per optimizer configuration, from shapes alone.</summary>
public static class MemoryCommand
{
    public static Command Create()
    {
        var config = CommonOptions.ConfigArgument();
        var set = CommonOptions.SetOption();
        var csv = new Option<string?>("--csv") { Description = "also write the plan as CSV to this file" };
        var command = new Command("memory", "plan parameters, weight, gradient and optimizer-state bytes from the model's shapes (no training, any size)")
            { config, set, csv };
        command.SetAction(parse =>
        {
            var experiment = ConfigLoader.Load(parse.GetValue(config)!, parse.GetValue(set) ?? []);
            IReadOnlyList<MemoryPlanRow> rows;
            try
            {
                rows = MemoryPlanner.Plan(experiment);
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine($"harness: {experiment.SourcePath}: {e.Message}");
                return ExitCodes.BadInput;
            }
            var c = CultureInfo.InvariantCulture;
            var first = rows[0];
            Console.WriteLine($"{experiment.Name}: {first.Workload}, {first.Params.ToString("N0", c)} parameters ({first.Dtype}): "
                + $"weights {ReportFormat.Bytes(first.WeightBytes)}, gradients {ReportFormat.Bytes(first.GradientBytes)}");
            if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 200;
            var table = new Table().AddColumns("configuration", "optimizer", "state", "state B/param", "kind", "weights + grads + state");
            foreach (var r in rows)
                table.AddRow(Markup.Escape(r.Label), r.Optimizer,
                    r.StateKind == "bound" ? $"{ReportFormat.Bytes(r.StateBytesMin)} .. {ReportFormat.Bytes(r.StateBytes)}" : ReportFormat.Bytes(r.StateBytes),
                    r.StateKind == "bound" ? $"{PerParam(r.StateBytesMin, r.Params)} .. {PerParam(r.StateBytes, r.Params)}" : PerParam(r.StateBytes, r.Params),
                    r.StateKind, (r.StateKind == "bound" ? "<= " : "") + ReportFormat.Bytes(r.TotalBytes));
            AnsiConsole.Write(table);
            if (rows.Any(r => r.StateKind == "bound"))
                Console.WriteLine("bound: the state depends on the data (Gefen's periods come from the first gradient); the range holds for every gradient");
            if (parse.GetValue(csv) is { } path)
            {
                CsvFiles.WriteAll(path, rows);
                Console.WriteLine($"csv: {path}");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string PerParam(long bytes, long parameters) =>
        parameters == 0 ? "—" : ((double)bytes / parameters).ToString("F3", CultureInfo.InvariantCulture);
}
