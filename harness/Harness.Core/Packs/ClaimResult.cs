namespace Harness.Core.Packs;

/// <summary>
/// A claim's verdict with the measured value (filled whenever the runs produced it, smoke scale included), the
/// completed seeds behind it (<c>3</c>, or <c>3 vs 2</c> for two configurations) and how it was decided.
/// </summary>
public sealed record ClaimResult(string Verdict, double? Measured, string Seeds, string Detail);
