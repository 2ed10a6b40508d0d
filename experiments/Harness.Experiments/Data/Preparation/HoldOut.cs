namespace Harness.Experiments.Data.Preparation;

/// <summary>
/// Which documents of one source go to validation: those whose name satisfies <see cref="Named"/>, or a stable
/// <see cref="SamplePercent"/> % of them chosen by a hash of source and name (at least one, never all).
/// </summary>
public sealed record HoldOut(Func<string, bool>? Named = null, int SamplePercent = 0);
