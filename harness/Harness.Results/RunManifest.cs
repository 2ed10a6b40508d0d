using System.Text.Json.Nodes;

namespace Harness.Results;

/// <summary>
/// <c>manifest.json</c> of a run: what ran (the resolved spec), where and with what software, when, and
/// how it ended. Written when the run starts and rewritten, atomically, when it ends.
/// </summary>
public sealed record RunManifest
{
    public required string RunId { get; init; }
    public required string Experiment { get; init; }
    public required string Optimizer { get; init; }
    public required string Label { get; init; }
    public required int Seed { get; init; }
    public required RunStatus Status { get; init; }
    public string? Message { get; init; }
    public IReadOnlyList<KeyValuePair<string, string>> SweepValues { get; init; } = [];
    public required JsonObject Spec { get; init; }
    public required Provenance Provenance { get; init; }
    public string Implementation { get; init; } = "";
    public string StateDtype { get; init; } = "";
    public required DateTimeOffset StartedUtc { get; init; }
    public DateTimeOffset? EndedUtc { get; init; }
    public string ConfigPath { get; init; } = "";
    /// <summary>The checkpoint step this attempt resumed from; null when it started from step 0.</summary>
    public int? ResumedFromStep { get; init; }
}
