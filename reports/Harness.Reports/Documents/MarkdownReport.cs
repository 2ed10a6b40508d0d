using System.Globalization;
using System.Text;

namespace Harness.Reports.Documents;

/// <summary><c>report.md</c>: the same sections as the HTML report, charts linked as PNG files beside it.</summary>
public static class MarkdownReport
{
    public static string Build(ReportContent content)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(c, $"# {content.Results.Experiment}");
        sb.AppendLine();
        sb.AppendLine("Generated from the stored results only. Means over completed seeds; ± is the sample standard deviation.");
        sb.AppendLine();
        sb.AppendLine("## Findings");
        sb.AppendLine();
        sb.AppendLine(c, $"Rule: {Findings.Rule}");
        sb.AppendLine();
        foreach (var f in content.Findings) sb.AppendLine(c, $"- {f}");
        sb.AppendLine();
        if (content.Claims.Count > 0)
        {
            sb.AppendLine("## Claims");
            sb.AppendLine();
            sb.AppendLine(Claims.ClaimsMarkdown.Rules);
            sb.AppendLine();
            Table(sb, Claims.ClaimsMarkdown.Header, Claims.ClaimsMarkdown.Cells(content.Claims));
            sb.AppendLine();
        }
        sb.AppendLine("## Summary");
        sb.AppendLine();
        Table(sb, ReportSections.TableHeader, ReportSections.TableCells(content.Rows));
        var incomplete = ReportSections.Incomplete(content.Results);
        if (incomplete.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("### Runs that did not complete");
            sb.AppendLine();
            Table(sb, ["configuration", "seed", "status", "message", "run id"], incomplete);
        }
        sb.AppendLine();
        sb.AppendLine("## Charts");
        foreach (var chart in content.Charts)
        {
            sb.AppendLine();
            sb.AppendLine(c, $"### {chart.Title}");
            sb.AppendLine();
            sb.AppendLine(c, $"![{chart.Title}]({chart.Name}.png) ([SVG]({chart.Name}.svg))");
            foreach (var n in chart.Notes) { sb.AppendLine(); sb.Append(c, $"- {n}"); }
            if (chart.Notes.Count > 0) sb.AppendLine();
        }
        sb.AppendLine();
        sb.AppendLine("## Experiment");
        sb.AppendLine();
        Table(sb, ["configuration", "optimizer options", "seeds"], ReportSections.Optimizers(content.Results).Select(o => new[] { o.Label, $"`{o.Options}`", o.Seeds }).ToList());
        sb.AppendLine();
        sb.AppendLine("```json");
        sb.AppendLine(ReportSections.Config(content.Results));
        sb.AppendLine("```");
        sb.AppendLine();
        sb.AppendLine("## Environment");
        sb.AppendLine();
        Table(sb, ["", ""], ReportSections.Environment(content.Results).Select(e => new[] { e.Key, e.Value }).ToList());
        return sb.ToString();
    }

    /// <summary>A Markdown table (cells escaped for pipes and line breaks).</summary>
    public static void Table(StringBuilder sb, IReadOnlyList<string> header, IReadOnlyList<string[]> rows)
    {
        static string Cell(string s) => s.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
        sb.AppendLine("| " + string.Join(" | ", header.Select(Cell)) + " |");
        sb.AppendLine("|" + string.Concat(header.Select(_ => "---|")));
        foreach (var r in rows) sb.AppendLine("| " + string.Join(" | ", r.Select(Cell)) + " |");
    }
}
