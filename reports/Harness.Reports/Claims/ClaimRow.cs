namespace Harness.Reports.Claims;

/// <summary>One row of <c>claims.csv</c>: a claim of a paper, what the paper says, what was measured and the verdict.</summary>
public sealed record ClaimRow
{
    public string Claim { get; init; } = "";
    public string Paper { get; init; } = "";
    public string Kind { get; init; } = "";
    public string Statement { get; init; } = "";
    public double PaperValue { get; init; }
    public double? MeasuredValue { get; init; }
    public string Unit { get; init; } = "";
    public string Scale { get; init; } = "";
    public string Seeds { get; init; } = "";
    public string Verdict { get; init; } = "";
    public string Rule { get; init; } = "";
    public string Source { get; init; } = "";
    public string Url { get; init; } = "";
    public string Experiment { get; init; } = "";
    public string Detail { get; init; } = "";
}
