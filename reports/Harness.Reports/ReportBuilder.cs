using System.Globalization;
using System.Text;
using Harness.Core.Results;
using Harness.Reports.Tables;

namespace Harness.Reports;

/// <summary>
/// Turns an experiment folder's stored results, and only them, into <c>report/summary.csv</c> and
/// <c>report/report.md</c>. Charts and the HTML report build on the same table.
/// </summary>
public static class ReportBuilder
{
    public sealed record Output(string Directory, IReadOnlyList<ReportRow> Rows, IReadOnlyList<string> Files);

    public static Output Build(string experimentDir)
    {
        var summaryPath = Path.Combine(experimentDir, ResultStore.SummaryFile);
        var runs = ResultStore.ReadSummary(summaryPath);
        var rows = SummaryTable.Build(runs);
        var outDir = Path.Combine(experimentDir, "report");
        Directory.CreateDirectory(outDir);
        var csv = Path.Combine(outDir, "summary.csv");
        CsvFiles.WriteAll(csv, rows);
        var md = Path.Combine(outDir, "report.md");
        AtomicFile.WriteText(md, Markdown(Path.GetFileName(Path.GetFullPath(experimentDir).TrimEnd('/')), runs, rows));
        return new Output(outDir, rows, [csv, md]);
    }

    /// <summary>The Markdown report: one table row per configuration, numbers in readable units.</summary>
    public static string Markdown(string experiment, IReadOnlyList<SummaryRow> runs, IReadOnlyList<ReportRow> rows)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(c, $"# {experiment}");
        sb.AppendLine();
        var devices = string.Join(", ", runs.Select(r => r.Device).Where(d => d.Length > 0).Distinct());
        sb.AppendLine(c, $"{runs.Count} runs on {(devices.Length > 0 ? devices : "no device")}. Means over completed seeds; ± is the sample standard deviation.");
        sb.AppendLine();
        sb.AppendLine("| configuration | runs | final eval loss | final train loss | state | × AdamW | tokens/s | step ms p50 | optimizer ms p50 | implementation |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in rows)
        {
            var loss = r.FinalEvalLossMean is { } m ? m.ToString("F4", c) + (r.FinalEvalLossStd is { } s ? " ± " + s.ToString("F4", c) : "") : "—";
            sb.AppendLine(c, $"| {r.Label} | {r.Completed}/{r.Runs} ({r.Statuses}) | {loss} | {F(r.FinalTrainLossMean, "F4")} | {Bytes(r.StateBytesMean)} | {F(r.StateBytesVsAdamw, "F2")} | {F(r.TokensPerSMean, "N0")} | {F(r.StepMsP50Mean, "F1")} | {F(r.OptimizerStepMsP50Mean, "F2")} | {r.Implementation} |");
        }
        return sb.ToString();
    }

    private static string F(double? v, string format) => v is { } x ? x.ToString(format, CultureInfo.InvariantCulture) : "—";

    /// <summary>Bytes in binary units (KiB, MiB, GiB).</summary>
    public static string Bytes(double? bytes)
    {
        if (bytes is not { } b) return "—";
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        var i = 0;
        while (b >= 1024 && i < units.Length - 1) { b /= 1024; i++; }
        return b.ToString(i == 0 ? "F0" : "F2", CultureInfo.InvariantCulture) + " " + units[i];
    }
}
