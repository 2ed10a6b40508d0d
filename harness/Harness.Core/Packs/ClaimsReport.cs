using Harness.Reports;
using Harness.Reports.Claims;
using Harness.Results;
using Harness.Reports.Charts;
using Harness.Reports.Rendering;

namespace Harness.Core.Packs;

/// <summary>
/// Judges every claim of a pack at one scale from the stored results only, and writes <c>claims.csv</c>,
/// <c>claims.md</c> and the claimed-vs-measured chart (PNG, SVG) to the output folder. Each experiment that
/// ran also gets its claims as <c>claims.csv</c> in its folder and its report rebuilt, with a Claims section.
/// </summary>
public static class ClaimsReport
{
    public const string CsvFile = ClaimsMarkdown.CsvFile;
    public const string MarkdownFile = "claims.md";

    public sealed record Output(string Directory, IReadOnlyList<ClaimRow> Rows, IReadOnlyList<string> Files);

    /// <param name="resultsRoot">The results root the experiments ran under (<c>runs</c>).</param>
    /// <param name="plans">The experiments planned at this scale; a claim whose experiment is not among them did not run.</param>
    /// <param name="notRun">Why nothing ran at all (e.g. <c>needs a GPU</c>), or null.</param>
    public static IReadOnlyList<ClaimRow> Judge(LoadedPack pack, PackScale scale, string resultsRoot, IReadOnlyList<PackRunPlan> plans, string? notRun)
    {
        var store = new ResultStore(resultsRoot);
        var rowsOf = new Dictionary<string, IReadOnlyList<SummaryRow>>(StringComparer.Ordinal);
        foreach (var plan in plans)
        {
            var ids = plan.Runs.Select(r => r.RunId).ToHashSet(StringComparer.Ordinal);
            var path = store.SummaryPath(plan.Config.Name);
            rowsOf[plan.ExperimentId] = File.Exists(path) ? ResultStore.ReadSummary(path).Where(r => ids.Contains(r.RunId)).ToList() : [];
        }
        return pack.Pack.Claims.Select(claim =>
        {
            var experiment = pack.PackExperimentOf(claim);
            var reason = notRun
                ?? (experiment.FileAt(scale) is null ? experiment.Missing : null)
                ?? (rowsOf.ContainsKey(claim.Experiment) ? null : "its experiment was not planned");
            var result = ClaimJudge.Judge(claim, scale, rowsOf.GetValueOrDefault(claim.Experiment) ?? [], reason);
            return new ClaimRow
            {
                Claim = claim.Id, Paper = pack.Pack.Paper, Kind = PackNaming.Of(claim.Kind), Statement = claim.Statement,
                PaperValue = claim.PaperValue, MeasuredValue = result.Measured, Unit = claim.Unit, Scale = PackNaming.Of(scale),
                Seeds = result.Seeds, Verdict = result.Verdict, Rule = claim.Rule.Describe(), Source = claim.Source, Url = claim.Url,
                Experiment = pack.ExperimentOf(claim, scale)?.Name ?? claim.Experiment,
                Detail = string.Join("; ", new[] { result.Detail, claim.Note ?? "" }.Where(s => s.Length > 0)),
            };
        }).ToList();
    }

    /// <summary>Judges (see <see cref="Judge"/>) and writes everything to <paramref name="outDir"/>.</summary>
    public static Output Build(LoadedPack pack, PackScale scale, string resultsRoot, IReadOnlyList<PackRunPlan> plans, string? notRun, string outDir)
    {
        var rows = Judge(pack, scale, resultsRoot, plans, notRun);
        Directory.CreateDirectory(outDir);
        var files = new List<string>();
        var csv = Path.Combine(outDir, CsvFile);
        CsvFiles.WriteAll(csv, rows);
        files.Add(csv);
        var chart = ClaimsChart.Build(pack.Pack.Paper, PackNaming.Of(scale), rows);
        if (chart.Items.Count > 0)
        {
            var rendered = new ChartRenderer(new Palette([])).Render(chart);
            var png = Path.Combine(outDir, ClaimsChart.FileName + ".png");
            File.WriteAllBytes(png, rendered.Png);
            var svg = Path.Combine(outDir, ClaimsChart.FileName + ".svg");
            AtomicFile.WriteText(svg, rendered.Svg);
            files.AddRange([png, svg]);
        }
        var md = Path.Combine(outDir, MarkdownFile);
        AtomicFile.WriteText(md, ClaimsDocument.Build(pack.Pack, scale, rows, chart.Items.Count > 0));
        files.Add(md);
        var store = new ResultStore(resultsRoot);
        foreach (var plan in plans)
        {
            var dir = store.ExperimentDir(plan.Config.Name);
            if (!File.Exists(store.SummaryPath(plan.Config.Name))) continue;
            var mine = rows.Where(r => r.Experiment == plan.Config.Name).ToList();
            CsvFiles.WriteAll(Path.Combine(dir, CsvFile), mine);
            files.AddRange(ReportBuilder.Build(dir).Files.Where(f => f.EndsWith(".md", StringComparison.Ordinal)));
        }
        return new Output(outDir, rows, files);
    }
}
