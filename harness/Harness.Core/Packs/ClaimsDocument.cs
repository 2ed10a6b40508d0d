using System.Globalization;
using System.Text;
using Harness.Reports.Claims;
using Harness.Reports.Documents;

namespace Harness.Core.Packs;

/// <summary><c>claims.md</c>: the pack's citation, the rules, the claims table and how each verdict was reached.</summary>
public static class ClaimsDocument
{
    public static string Build(PaperPack pack, PackScale scale, IReadOnlyList<ClaimRow> rows, bool chart)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(c, $"# {pack.Title}: claims at scale {PackNaming.Of(scale)}");
        sb.AppendLine();
        sb.AppendLine(c, $"arXiv [{pack.Arxiv}](https://arxiv.org/abs/{pack.Arxiv}) · reference code {pack.ReferenceCode}");
        sb.AppendLine();
        sb.AppendLine(c, $"Cite: {pack.Citation.Trim()}");
        sb.AppendLine();
        sb.AppendLine(ClaimsMarkdown.Rules);
        sb.AppendLine();
        var counts = rows.GroupBy(r => r.Verdict.StartsWith(ClaimVerdicts.NotRunPrefix, StringComparison.Ordinal) ? "not run" : r.Verdict)
            .Select(g => $"{g.Count()} {g.Key}");
        sb.AppendLine(c, $"{rows.Count} claim(s): {string.Join(", ", counts)}.");
        sb.AppendLine();
        MarkdownReport.Table(sb, ClaimsMarkdown.Header, ClaimsMarkdown.Cells(rows));
        if (chart)
        {
            sb.AppendLine();
            sb.AppendLine(c, $"![claimed vs measured]({ClaimsChart.FileName}.png) ([SVG]({ClaimsChart.FileName}.svg))");
        }
        sb.AppendLine();
        sb.AppendLine("## How each verdict was reached");
        sb.AppendLine();
        foreach (var r in rows) sb.AppendLine(c, $"- **{r.Claim}** ({r.Experiment}): {(r.Detail.Length > 0 ? r.Detail : r.Verdict)}");
        return sb.ToString();
    }
}
