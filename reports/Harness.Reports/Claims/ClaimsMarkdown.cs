using System.Globalization;
using System.Text;
using Harness.Core.Packs;
using Harness.Reports.Documents;

namespace Harness.Reports.Claims;

/// <summary><c>claims.md</c> and the report's Claims section: the claims table with the rules that decided it.</summary>
public static class ClaimsMarkdown
{
    public const string Rules = "Verdicts: `exact` needs the measured value to equal the paper's; `ratio` needs measured ÷ paper within "
        + "1 ± tolerance; `ordering` and `gap` compare two configurations under the report's seed rule (intervals mean ± 2·SE, "
        + "at least two completed seeds on each side, else `inconclusive (seeds)`): ordering needs the intervals apart in the "
        + "claimed direction, gap needs |A − B| plus both 2·SE within delta (beyond delta even after subtracting them: `not reproduced`). "
        + "At smoke scale every verdict is `smoke (mechanics only)`: the numbers are filled but prove nothing about the paper.";

    public static readonly string[] Header = ["claim", "statement", "paper", "measured", "unit", "seeds", "verdict", "rule", "source"];

    public static IReadOnlyList<string[]> Cells(IReadOnlyList<ClaimRow> rows)
    {
        var c = CultureInfo.InvariantCulture;
        return rows.Select(r => new[]
        {
            r.Claim, r.Statement, r.PaperValue.ToString("G6", c), ReportFormat.Number(r.MeasuredValue, "G6"), r.Unit, r.Seeds, r.Verdict, r.Rule,
            $"[{r.Source}]({r.Url})",
        }).ToList();
    }

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
        sb.AppendLine(Rules);
        sb.AppendLine();
        var counts = rows.GroupBy(r => r.Verdict.StartsWith(ClaimVerdicts.NotRunPrefix, StringComparison.Ordinal) ? "not run" : r.Verdict)
            .Select(g => $"{g.Count()} {g.Key}");
        sb.AppendLine(c, $"{rows.Count} claim(s): {string.Join(", ", counts)}.");
        sb.AppendLine();
        MarkdownReport.Table(sb, Header, Cells(rows));
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
