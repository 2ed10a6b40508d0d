using System.CommandLine;
using Harness.Core.Config;
using Harness.Core.Planning;

namespace Harness.Cli.Commands;

/// <summary><c>harness validate CONFIG</c>: loads and plans without running; exit 0 when valid, 2 with every problem otherwise.</summary>
public static class ValidateCommand
{
    public static Command Create()
    {
        var config = CommonOptions.ConfigArgument();
        var set = CommonOptions.SetOption();
        var command = new Command("validate", "check a config file (every problem is listed) and show its plan") { config, set };
        command.SetAction(parse =>
        {
            var experiment = ConfigLoader.Load(parse.GetValue(config)!, parse.GetValue(set) ?? []);
            var plan = Planner.Plan(experiment, experiment.Device == "auto" ? "cpu" : experiment.Device);
            var skipped = plan.Count(p => p.Skipped);
            Console.WriteLine($"{experiment.SourcePath}: valid. {experiment.Optimizers.Count} optimizer configuration(s) × {experiment.Seeds.Count} seed(s) = {plan.Count} run(s){(skipped > 0 ? $", {skipped} to be skipped" : "")}.");
            foreach (var run in plan)
                Console.WriteLine($"  {run.RunId}  {run.Variant.Label}  seed {run.Seed}{(run.SkipReason is { } r ? $"  (skip: {r})" : "")}");
            return ExitCodes.Ok;
        });
        return command;
    }
}
