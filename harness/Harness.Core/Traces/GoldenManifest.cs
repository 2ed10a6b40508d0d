using System.Text.Json;
using System.Text.Json.Serialization;

namespace Harness.Core.Traces;

/// <summary>
/// The manifest of a golden trace case (<c>&lt;case&gt;.manifest.json</c>, format <c>golden-trace-v1</c>):
/// the model, every parameter's name and shape, the low-rank targets, and per optimizer key its kind,
/// hyperparameters and checkpoints. See <c>shared/golden/README.md</c>.
/// </summary>
public sealed record GoldenManifest
{
    [JsonPropertyName("format")] public string Format { get; init; } = "";
    [JsonPropertyName("case")] public string Case { get; init; } = "";
    [JsonPropertyName("model")] public GoldenModel Model { get; init; } = new();
    [JsonPropertyName("loss_of_recorded_trajectory")] public IReadOnlyList<double> LossOfRecordedTrajectory { get; init; } = [];
    [JsonPropertyName("params")] public IReadOnlyList<GoldenParam> Params { get; init; } = [];
    [JsonPropertyName("low_rank_targets")] public IReadOnlyList<string> LowRankTargets { get; init; } = [];
    [JsonPropertyName("optimizers")] public IReadOnlyDictionary<string, GoldenOptimizer> Optimizers { get; init; } = new Dictionary<string, GoldenOptimizer>();

    /// <summary>The Q-GaLore projector case (run alone on one weight's gradients), when present.</summary>
    [JsonPropertyName("qgalore_projector")] public GoldenQGaloreProjector? QGaloreProjector { get; init; }

    /// <summary>The trace file next to the manifest: <c>&lt;case&gt;.&lt;suffix&gt;.safetensors</c>.</summary>
    public string FileNextTo(string manifestPath, string suffix) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(manifestPath))!, $"{Case}.{suffix}.safetensors");

    /// <summary>Loads and checks a manifest; a missing or malformed file throws <see cref="TraceFormatException"/>.</summary>
    public static GoldenManifest Load(string path)
    {
        GoldenManifest? manifest;
        try
        {
            using var stream = File.OpenRead(path);
            manifest = JsonSerializer.Deserialize<GoldenManifest>(stream);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            throw new TraceFormatException(path, $"cannot be read as a golden manifest ({e.Message})", e);
        }
        if (manifest is null) throw new TraceFormatException(path, "is empty");
        if (manifest.Format != "golden-trace-v1")
            throw new TraceFormatException(path, $"format is '{manifest.Format}', expected 'golden-trace-v1'");
        if (manifest.Case.Length == 0) throw new TraceFormatException(path, "has no 'case'");
        if (manifest.Model.Steps <= 0) throw new TraceFormatException(path, "model.steps must be > 0");
        if (manifest.Params.Count == 0) throw new TraceFormatException(path, "lists no params");
        foreach (var (key, o) in manifest.Optimizers)
        {
            if (o.Kind.Length == 0) throw new TraceFormatException(path, $"optimizer '{key}' has no kind");
            if (o.Checkpoints.Any(k => k < 1 || k > manifest.Model.Steps))
                throw new TraceFormatException(path, $"optimizer '{key}' has a checkpoint outside 1..{manifest.Model.Steps}");
            if (!o.Hyperparameters.TryGetValue("lr", out var lr) || lr.ValueKind != JsonValueKind.Number)
                throw new TraceFormatException(path, $"optimizer '{key}' has no numeric hyperparameter 'lr'");
        }
        return manifest;
    }
}
