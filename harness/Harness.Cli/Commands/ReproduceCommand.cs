using System.CommandLine;
using System.Globalization;
using Harness.Cli.Output;
using Harness.Core.Devices;
using Harness.Core.Packs;
using Harness.Reports.Claims;
using Spectre.Console;

namespace Harness.Cli.Commands;

/// <summary>
/// <c>harness reproduce PAPER|PATH [--scale smoke|reduced|paper]</c>: runs a paper's reproduction pack
/// (<c>configs/papers/&lt;paper&gt;/pack.yaml</c>), reusing completed runs, judges every claim from the stored
/// results and writes <c>claims.csv</c>, <c>claims.md</c> and the claimed-vs-measured chart.
/// </summary>
public static class ReproduceCommand
{
    public static Command Create()
    {
        var paper = new Argument<string>("paper") { Description = "a pack name (galore, qgalore, adam8bit, subtrackpp, swan, gefen, forge) or a pack.yaml / pack folder" };
        var scale = new Option<string>("--scale") { Description = "smoke (CPU, mechanics only) | reduced (one GPU, < 10 min a run) | paper (the paper's shapes, few steps)", DefaultValueFactory = _ => "smoke" };
        var output = new Option<string>("--out") { Description = "results root (default: runs); claims go to <out>/claims/<paper>-<scale>/", DefaultValueFactory = _ => "runs" };
        var set = CommonOptions.SetOption();
        set.Description = "override a value in every experiment of the pack at this scale, e.g. --set training.steps=10 (repeatable)";
        var command = new Command("reproduce", "run a paper's reproduction pack and judge its claims (claims.csv, claims.md, chart)") { paper, scale, output, set };
        command.SetAction(parse =>
        {
            var scaleText = parse.GetValue(scale)!;
            if (PackNaming.ScaleOf(scaleText) is not { } packScale)
            {
                Console.Error.WriteLine($"harness: --scale: unknown scale '{scaleText}' (expected smoke, reduced or paper)");
                return ExitCodes.BadInput;
            }
            var name = parse.GetValue(paper)!;
            var baseFolders = new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory };
            if (PackLoader.Find(name, baseFolders) is not { } packPath)
            {
                var known = baseFolders.SelectMany(PackLoader.Available).Distinct().ToList();
                Console.Error.WriteLine($"harness: reproduce: no pack '{name}' (packs: {(known.Count > 0 ? string.Join(", ", known) : "none found under configs/papers/")})");
                return ExitCodes.BadInput;
            }
            var pack = PackLoader.Load(packPath, packScale, parse.GetValue(set) ?? []);
            if (RunCommand.DiscoverLibTorch() is not { } libTorch) return ExitCodes.BadInput;
            var (device, notRun) = PackRunner.DeviceFor(packScale);
            var plans = notRun is null ? PackRunner.Plan(pack, packScale, device.ToString()) : [];
            var root = parse.GetValue(output)!;
            Console.WriteLine($"{pack.Pack.Paper} ({pack.Pack.Title}), scale {scaleText}: {pack.Pack.Claims.Count} claim(s), "
                + $"{plans.Count} experiment(s), {plans.Sum(p => p.Runs.Count)} run(s) on {device}{(notRun is null ? "" : $" (nothing runs: {notRun})")}");
            var allCompleted = true;
            if (plans.Count > 0)
            {
                var (session, provenance) = RunCommand.OpenSession(device, libTorch);
                using var sessionLifetime = session;
                foreach (var plan in plans) Console.WriteLine($"  {plan.ExperimentId}: {plan.Config.Name} ({plan.Config.SourcePath}), {plan.Runs.Count} run(s)");
                var results = new PackRunner(new Harness.Results.ResultStore(root), new PlainProgress(Console.Out), HarnessCache.Directory())
                    .Run(plans, session, provenance, CancellationToken.None);
                allCompleted = results.All(r => r.AllCompleted);
            }
            var outDir = Path.Combine(root, "claims", $"{pack.Pack.Paper}-{scaleText}");
            var report = ClaimsReport.Build(pack, packScale, root, plans, notRun, outDir);
            PrintClaims(report.Rows);
            foreach (var file in report.Files) Console.WriteLine($"wrote {file}");
            return allCompleted ? ExitCodes.Ok : ExitCodes.Failed;
        });
        return command;
    }

    private static void PrintClaims(IReadOnlyList<ClaimRow> rows)
    {
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 200;
        var c = CultureInfo.InvariantCulture;
        var table = new Table().AddColumns("claim", "paper", "measured", "unit", "seeds", "verdict");
        foreach (var r in rows)
            table.AddRow(Markup.Escape(r.Claim), r.PaperValue.ToString("G4", c), r.MeasuredValue?.ToString("G4", c) ?? "—", Markup.Escape(r.Unit), r.Seeds, Markup.Escape(r.Verdict));
        AnsiConsole.Write(table);
    }
}
