using Harness.Reports.Data;
using Harness.Reports.Rendering;
using Harness.Reports.Tables;

namespace Harness.Reports.Documents;

/// <summary>Everything a report document shows; the Markdown and HTML writers only lay it out.</summary>
public sealed record ReportContent(
    ResultSet Results,
    IReadOnlyList<ReportRow> Rows,
    IReadOnlyList<RenderedChart> Charts,
    IReadOnlyList<string> Findings)
{
    /// <summary>The paper claims judged from this experiment (its <c>claims.csv</c>, written by <c>reproduce</c>); empty when none.</summary>
    public IReadOnlyList<Claims.ClaimRow> Claims { get; init; } = [];
}
