namespace Harness.Reports.Charts;

/// <summary>A (stacked) bar chart model. Values are already in <see cref="Unit"/>.</summary>
public sealed record BarChart
{
    public required string Name { get; init; }
    public required string Title { get; init; }
    public required string YLabel { get; init; }
    public string Unit { get; init; } = "";
    public required IReadOnlyList<BarItem> Bars { get; init; }
    public IReadOnlyList<string> Notes { get; init; } = [];
}
