namespace Harness.Reports.Charts;

/// <summary>
/// One line of a chart: one configuration (or one run that did not complete, drawn on its own and marked).
/// <see cref="BandLabel"/> names the shaded band when there is one (several seeds).
/// </summary>
public sealed record LineSeries
{
    public required string Label { get; init; }
    public required string Optimizer { get; init; }
    public required IReadOnlyList<LinePoint> Points { get; init; }
    public int Seeds { get; init; } = 1;
    public string? BandLabel { get; init; }
    /// <summary>Status of a run that did not complete (e.g. <c>diverged</c>); null for completed configurations.</summary>
    public string? Incomplete { get; init; }
    /// <summary>Index of this configuration among those of the same optimizer (sets the line pattern).</summary>
    public int Variant { get; init; }
    /// <summary>A point to mark (the best point of a sweep).</summary>
    public LinePoint? Best { get; init; }
}
