namespace Harness.Core.Memory;

/// <summary>
/// One optimizer configuration's memory, planned from the model's shapes (<c>harness memory</c>, one CSV row).
/// Bytes are exact for <c>state_kind</c> <c>exact</c>; for <c>bound</c> (the state depends on the data, as Gefen's
/// periods do) <see cref="StateBytes"/> is the most the formula allows and <see cref="StateBytesMin"/> the least,
/// and the per-role figures are each role's most.
/// </summary>
public sealed record MemoryPlanRow
{
    public required string Label { get; init; }
    public required string Optimizer { get; init; }
    public required string Workload { get; init; }
    /// <summary><c>training.dtype</c>; <c>mixed</c> is planned with float32 master weights, gradients and state.</summary>
    public required string Dtype { get; init; }
    public required long Params { get; init; }
    public required long WeightBytes { get; init; }
    /// <summary>One gradient per parameter in its dtype (the standard step; FORGE's fused backward holds less).</summary>
    public required long GradientBytes { get; init; }
    public required long StateBytes { get; init; }
    public required long StateBytesMin { get; init; }
    /// <summary><c>exact</c> (the catalog's closed form) or <c>bound</c> (its range over all data).</summary>
    public required string StateKind { get; init; }
    /// <summary>Weights + gradients + state (the most, for a bound): the persistent training memory before activations.</summary>
    public required long TotalBytes { get; init; }
    public required long MatrixParams { get; init; }
    public required long VectorParams { get; init; }
    public required long EmbeddingParams { get; init; }
    public required long OutputHeadParams { get; init; }
    public required long MatrixStateBytes { get; init; }
    public required long VectorStateBytes { get; init; }
    public required long EmbeddingStateBytes { get; init; }
    public required long OutputHeadStateBytes { get; init; }
}
