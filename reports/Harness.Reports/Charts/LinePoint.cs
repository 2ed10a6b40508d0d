namespace Harness.Reports.Charts;

/// <summary>A point of a line: the mean over seeds and the band around it (min and max over seeds; equal to Y with one seed).</summary>
public sealed record LinePoint(double X, double Y, double Low, double High);
