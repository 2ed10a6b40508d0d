namespace Harness.Reports.Charts;

/// <summary>One stacked part of a bar. <see cref="Measured"/> is false for closed-form (computed) values.</summary>
public sealed record BarSegment(string Name, double Value, bool Measured);
