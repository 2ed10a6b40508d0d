using System.Globalization;
using System.Text;
using Harness.Reports.Documents;

namespace Harness.Reports.Claims;

/// <summary><c>claims.md</c> and the report's Claims section: the claims table with the rules that decided it.</summary>
public static class ClaimsMarkdown
{
    /// <summary>Where a pack's judged claims are stored, beside its report and in each experiment folder it ran.</summary>
    public const string CsvFile = "claims.csv";

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
}
