using Harness.Results;
using Harness.Reports.Charts;
using Harness.Reports.Data;
using Harness.Reports.Documents;
using Harness.Reports.Rendering;
using Harness.Reports.Tables;

namespace Harness.Reports;

/// <summary>
/// Turns an experiment folder's stored results, and only them, into <c>report/</c>: <c>summary.csv</c>, one
/// PNG and one SVG per chart, <c>report.md</c> and a self-contained <c>report.html</c>.
/// </summary>
public static class ReportBuilder
{
    public sealed record Output(string Directory, IReadOnlyList<ReportRow> Rows, IReadOnlyList<string> Files);

    public static Output Build(string experimentDir)
    {
        var results = ResultSet.Load(experimentDir);
        var claimsPath = Path.Combine(experimentDir, Claims.ClaimsMarkdown.CsvFile);
        var content = Compose(results) with { Claims = File.Exists(claimsPath) ? CsvFiles.ReadAll<Claims.ClaimRow>(claimsPath) : [] };
        var outDir = Path.Combine(experimentDir, "report");
        Directory.CreateDirectory(outDir);
        var files = new List<string>();
        void Write(string name, string text) { var p = Path.Combine(outDir, name); AtomicFile.WriteText(p, text); files.Add(p); }
        var csv = Path.Combine(outDir, "summary.csv");
        CsvFiles.WriteAll(csv, content.Rows);
        files.Add(csv);
        foreach (var chart in content.Charts)
        {
            var png = Path.Combine(outDir, chart.Name + ".png");
            File.WriteAllBytes(png, chart.Png);
            files.Add(png);
            Write(chart.Name + ".svg", chart.Svg);
        }
        Write("report.md", MarkdownReport.Build(content));
        Write("report.html", HtmlReport.Build(content));
        return new Output(outDir, content.Rows, files);
    }

    /// <summary>Bytes in binary units (KiB, MiB, GiB); the CLI's run table uses it.</summary>
    public static string Bytes(double? bytes) => ReportFormat.Bytes(bytes);

    /// <summary>The table, the charts (drawn) and the findings of a result set.</summary>
    public static ReportContent Compose(ResultSet results)
    {
        var rows = SummaryTable.Build(results.Runs);
        var renderer = new ChartRenderer(new Palette(results.Runs.Select(r => r.Optimizer)));
        var charts = new List<RenderedChart>();
        foreach (var eval in new[] { true, false })
            foreach (var axis in Enum.GetValues<LossAxis>())
                if (LossCurves.Build(results.Runs, axis, eval) is { Series.Count: > 0 } loss) charts.Add(renderer.Render(loss));
        if (LossCurves.Build(results.Runs, LossAxis.Step, eval: false, logX: true) is { Series.Count: > 0 } logLoss) charts.Add(renderer.Render(logLoss));
        if (MemoryBars.Build(rows) is { Bars.Count: > 0 } memory) charts.Add(renderer.Render(memory));
        if (SpeedBars.Throughput(rows) is { Bars.Count: > 0 } tps) charts.Add(renderer.Render(tps));
        if (SpeedBars.OptimizerStep(rows) is { Bars.Count: > 0 } opt) charts.Add(renderer.Render(opt));
        if (ParetoFront.Build(rows) is { Points.Count: > 0 } pareto) charts.Add(renderer.Render(pareto));
        if (SweepCurves.Build(results.Runs) is { } sweep) charts.Add(renderer.Render(sweep));
        return new ReportContent(results, rows, charts, Findings.Build(rows));
    }
}
