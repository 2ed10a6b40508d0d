namespace Harness.Reports.Charts;

/// <summary>A line chart model: what to draw, independent of the drawing library.</summary>
public sealed record LineChart
{
    public required string Name { get; init; }
    public required string Title { get; init; }
    public required string XLabel { get; init; }
    public required string YLabel { get; init; }
    public bool LogX { get; init; }
    public required IReadOnlyList<LineSeries> Series { get; init; }
    /// <summary>Events marked at their point (loss spikes on the loss charts).</summary>
    public IReadOnlyList<ChartMarker> Markers { get; init; } = [];
    /// <summary>Caveats shown under the chart (omitted data, warnings).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];
}
