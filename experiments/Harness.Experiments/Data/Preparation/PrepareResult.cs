namespace Harness.Experiments.Data.Preparation;

/// <summary>The outcome of <see cref="DataPreparer.PrepareAsync"/>: where the data is, and whether it was already there.</summary>
public sealed record PrepareResult(string Name, string Directory, bool AlreadyPrepared, string Summary);
