using System.CommandLine;

namespace Harness.Cli.Commands;

/// <summary>Options shared by several verbs.</summary>
public static class CommonOptions
{
    public static Argument<string> ConfigArgument() => new("config") { Description = "the experiment YAML file" };

    public static Option<string[]> SetOption() => new("--set")
    {
        Description = "override a config value, e.g. --set training.steps=50 or --set optimizers.0.lr=3e-3 (repeatable)",
        AllowMultipleArgumentsPerToken = false,
        Arity = ArgumentArity.ZeroOrMore,
    };
}
