using System.Text.Json.Serialization;

namespace Harness.Core.Traces;

/// <summary>One parameter of a golden case: its LLaMA-layout name and shape.</summary>
public sealed record GoldenParam
{
    [JsonPropertyName("name")] public string Name { get; init; } = "";
    [JsonPropertyName("shape")] public IReadOnlyList<long> Shape { get; init; } = [];
}
