using System.CommandLine;
using Harness.Experiments.Data;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using Spectre.Console;

namespace Harness.Cli.Commands;

/// <summary><c>harness list</c>: optimizers with their traits, workloads and built-in datasets.</summary>
public static class ListCommand
{
    public static Command Create()
    {
        var command = new Command("list", "list optimizers (with traits), workloads and built-in datasets");
        command.SetAction(_ =>
        {
            var optimizers = new Table().Title("optimizers").AddColumns("kind", "traits", "summary");
            foreach (var d in OptimizerCatalog.All)
                optimizers.AddRow(d.Kind, d.Traits.ToString(), Markup.Escape(d.Summary));
            AnsiConsole.Write(optimizers);
            var workloads = new Table().Title("workloads").AddColumns("kind", "summary");
            foreach (var w in WorkloadCatalog.All) workloads.AddRow(w.Kind, Markup.Escape(w.Summary));
            AnsiConsole.Write(workloads);
            var datasets = new Table().Title("built-in datasets").AddColumns("name", "description", "licence");
            foreach (var c in CorpusCatalog.All) datasets.AddRow(c.Name, Markup.Escape(c.Description), Markup.Escape(c.Licence));
            AnsiConsole.Write(datasets);
            return ExitCodes.Ok;
        });
        return command;
    }
}
