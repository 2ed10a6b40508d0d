namespace Harness.Reports.Charts;

/// <summary>Final loss against optimizer state memory; <see cref="Frontier"/> is ordered by X.</summary>
public sealed record ParetoChart
{
    public required string Name { get; init; }
    public required string Title { get; init; }
    public required string XLabel { get; init; }
    public required string YLabel { get; init; }
    public required IReadOnlyList<ParetoPoint> Points { get; init; }
    public required IReadOnlyList<ParetoPoint> Frontier { get; init; }
    public IReadOnlyList<string> Notes { get; init; } = [];
}
