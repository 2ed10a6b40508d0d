namespace Harness.Results;

/// <summary>One row of <c>metrics.csv</c>: a named final metric in base units (bytes, seconds, tokens/s).</summary>
public sealed record MetricRecord
{
    public string Name { get; init; } = "";
    public double? Value { get; init; }
    public string Unit { get; init; } = "";
    /// <summary>How it was measured, or why it is empty (e.g. "no allocator statistics on cpu").</summary>
    public string Note { get; init; } = "";
}
