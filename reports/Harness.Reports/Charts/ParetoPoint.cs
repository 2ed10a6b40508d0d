namespace Harness.Reports.Charts;

/// <summary>A configuration on the quality–memory plane.</summary>
public sealed record ParetoPoint(string Label, string Optimizer, double X, double Y, bool OnFrontier);
