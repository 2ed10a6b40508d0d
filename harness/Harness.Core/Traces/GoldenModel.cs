using System.Text.Json.Serialization;

namespace Harness.Core.Traces;

/// <summary>The <c>model</c> block of a golden manifest: the tiny LLaMA that produced the gradients.</summary>
public sealed record GoldenModel
{
    [JsonPropertyName("seed")] public long Seed { get; init; }
    [JsonPropertyName("vocab")] public int Vocab { get; init; }
    [JsonPropertyName("d")] public int D { get; init; }
    [JsonPropertyName("ff")] public int Ff { get; init; }
    [JsonPropertyName("heads")] public int Heads { get; init; }
    [JsonPropertyName("layers")] public int Layers { get; init; }
    [JsonPropertyName("seq")] public int Seq { get; init; }
    [JsonPropertyName("batch")] public int Batch { get; init; }

    /// <summary>Recorded gradient steps: <c>g.0 … g.(steps-1)</c>.</summary>
    [JsonPropertyName("steps")] public int Steps { get; init; }
    [JsonPropertyName("checkpoints")] public IReadOnlyList<int> Checkpoints { get; init; } = [];
}
