namespace Harness.Reports.Charts;

/// <summary>One bar: a configuration, its stacked segments, an optional ± error and the text printed on it.</summary>
public sealed record BarItem
{
    public required string Label { get; init; }
    public required string Optimizer { get; init; }
    public required IReadOnlyList<BarSegment> Segments { get; init; }
    public double? Error { get; init; }
    public string Annotation { get; init; } = "";
    public double Total => Segments.Sum(s => s.Value);
}
