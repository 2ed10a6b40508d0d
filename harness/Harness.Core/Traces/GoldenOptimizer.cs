using System.Text.Json;
using System.Text.Json.Serialization;

namespace Harness.Core.Traces;

/// <summary>
/// One recorded optimizer of a golden case: the catalog kind, the hyperparameters the reference ran
/// with, the checkpoints stored in its trace file, and any extra fields the reference reported
/// (e.g. Gefen's <c>gefen_periods</c>), kept verbatim for the optimizer's own tests.
/// </summary>
public sealed record GoldenOptimizer
{
    [JsonPropertyName("kind")] public string Kind { get; init; } = "";
    [JsonPropertyName("hyperparameters")] public IReadOnlyDictionary<string, JsonElement> Hyperparameters { get; init; } = new Dictionary<string, JsonElement>();
    [JsonPropertyName("checkpoints")] public IReadOnlyList<int> Checkpoints { get; init; } = [];

    /// <summary>Fields beyond kind, hyperparameters and checkpoints, by name.</summary>
    [JsonExtensionData] public Dictionary<string, JsonElement> Extra { get; init; } = [];

    /// <summary>The constant learning rate of the recorded run.</summary>
    public double LearningRate => Hyperparameters["lr"].GetDouble();
}
