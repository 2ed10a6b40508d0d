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

    /// <summary>
    /// Log-scaled y axis (single-segment bars of positive values only): bars rise from 1, so values that span
    /// orders of magnitude (a step at 1.1× its floor beside one at 175×) stay readable.
    /// </summary>
    public bool LogY { get; init; }
}
