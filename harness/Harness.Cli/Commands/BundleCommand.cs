using System.CommandLine;
using Harness.Core.Bundle;

namespace Harness.Cli.Commands;

/// <summary><c>harness bundle-assemble DIR</c>: the step of <c>./run.sh bundle</c> after <c>dotnet publish</c>.</summary>
public static class BundleCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("dir") { Description = "the bundle folder, with the published CLI in bin/" };
        var repo = new Option<string>("--repo") { Description = "the repository root", DefaultValueFactory = _ => "." };
        var command = new Command("bundle-assemble", "complete a published GPU bundle (used by ./run.sh bundle)") { dir, repo };
        command.Hidden = true;
        command.SetAction(parse =>
        {
            var files = BundleAssembler.Assemble(parse.GetValue(repo)!, parse.GetValue(dir)!);
            var bytes = files.Sum(f => new FileInfo(Path.Combine(parse.GetValue(dir)!, f)).Length);
            Console.WriteLine($"bundle {parse.GetValue(dir)}: {files.Count} files, {bytes / 1048576.0:F1} MiB");
            return ExitCodes.Ok;
        });
        return command;
    }
}
