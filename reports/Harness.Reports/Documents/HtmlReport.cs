using System.Globalization;
using System.Net;
using System.Text;

namespace Harness.Reports.Documents;

/// <summary><c>report.html</c>: one self-contained file (styles inline, charts embedded as base64 PNG).</summary>
public static class HtmlReport
{
    private const string Style = """
        body{font-family:"DejaVu Sans",system-ui,sans-serif;max-width:1280px;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.45}
        h1{border-bottom:2px solid #0072B2;padding-bottom:.3rem} h2{margin-top:2.2rem;border-bottom:1px solid #ddd}
        table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0;display:block;overflow-x:auto}
        th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:right;white-space:nowrap} th{background:#f3f5f8;white-space:normal;vertical-align:bottom}
        td:first-child,th:first-child{text-align:left} tr.warn td{background:#fff4e5}
        figure{margin:1.5rem 0} figure img{max-width:100%;border:1px solid #eee} figcaption{font-weight:bold;margin-bottom:.3rem}
        .notes{font-size:.85rem;color:#555;margin:.3rem 0 0 1rem} .rule{font-size:.9rem;color:#444;background:#f7f7f7;padding:.5rem;border-left:3px solid #0072B2}
        pre{background:#f7f7f7;padding:.6rem;font-size:.8rem;overflow-x:auto} code{font-size:.8rem}
        .warning{color:#a04000;font-weight:bold}
        """;

    public static string Build(ReportContent content)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        var title = E(content.Results.Experiment);
        sb.AppendLine(c, $"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} report</title><style>{Style}</style></head><body>");
        sb.AppendLine(c, $"<h1>{title}</h1>");
        sb.AppendLine("<p>Generated from the stored results only. Means over completed seeds; ± is the sample standard deviation.</p>");
        sb.AppendLine("<h2>Findings</h2>");
        sb.AppendLine(c, $"<p class=\"rule\">Rule: {E(Findings.Rule)}</p><ul>");
        foreach (var f in content.Findings) sb.AppendLine(c, $"<li>{E(f)}</li>");
        sb.AppendLine("</ul>");
        if (content.Claims.Count > 0)
        {
            sb.AppendLine(c, $"<h2>Claims</h2><p class=\"rule\">{E(Claims.ClaimsMarkdown.Rules)}</p>");
            Table(sb, Claims.ClaimsMarkdown.Header, content.Claims.Select(r => new[]
            {
                r.Claim, r.Statement, r.PaperValue.ToString("G6", c), ReportFormat.Number(r.MeasuredValue, "G6"), r.Unit, r.Seeds, r.Verdict, r.Rule, r.Source,
            }).ToList(), null);
        }
        sb.AppendLine("<h2>Summary</h2>");
        var cells = ReportSections.TableCells(content.Rows);
        Table(sb, ReportSections.TableHeader, cells, content.Rows.Select(r => r.Completed < r.Runs).ToList());
        var incomplete = ReportSections.Incomplete(content.Results);
        if (incomplete.Count > 0)
        {
            sb.AppendLine("<h3 class=\"warning\">Runs that did not complete</h3>");
            Table(sb, ["configuration", "seed", "status", "message", "run id"], incomplete, incomplete.Select(_ => true).ToList());
        }
        sb.AppendLine("<h2>Charts</h2>");
        foreach (var chart in content.Charts)
        {
            sb.AppendLine(c, $"<figure id=\"{E(chart.Name)}\"><figcaption>{E(chart.Title)}</figcaption>");
            sb.AppendLine(c, $"<img alt=\"{E(chart.Title)}\" src=\"data:image/png;base64,{Convert.ToBase64String(chart.Png)}\">");
            if (chart.Notes.Count > 0)
                sb.AppendLine(c, $"<ul class=\"notes\">{string.Concat(chart.Notes.Select(n => $"<li{(n.StartsWith("WARNING", StringComparison.Ordinal) ? " class=\"warning\"" : "")}>{E(n)}</li>"))}</ul>");
            sb.AppendLine("</figure>");
        }
        sb.AppendLine("<h2>Experiment</h2>");
        Table(sb, ["configuration", "optimizer options", "seeds"], ReportSections.Optimizers(content.Results).Select(o => new[] { o.Label, o.Options, o.Seeds }).ToList(), null);
        sb.AppendLine(c, $"<pre>{E(ReportSections.Config(content.Results))}</pre>");
        sb.AppendLine("<h2>Environment</h2>");
        Table(sb, ["", ""], ReportSections.Environment(content.Results).Select(e => new[] { e.Key, e.Value }).ToList(), null);
        sb.AppendLine("</body></html>");
        return sb.ToString();
    }

    private static string E(string s) => WebUtility.HtmlEncode(s);

    private static void Table(StringBuilder sb, IReadOnlyList<string> header, IReadOnlyList<string[]> rows, IReadOnlyList<bool>? warn)
    {
        sb.Append("<table><thead><tr>").Append(string.Concat(header.Select(h => $"<th>{E(h)}</th>"))).AppendLine("</tr></thead><tbody>");
        for (var i = 0; i < rows.Count; i++)
            sb.Append(warn is not null && warn[i] ? "<tr class=\"warn\">" : "<tr>")
              .Append(string.Concat(rows[i].Select(x => $"<td>{E(x)}</td>"))).AppendLine("</tr>");
        sb.AppendLine("</tbody></table>");
    }
}
