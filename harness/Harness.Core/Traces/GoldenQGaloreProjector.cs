using System.Text.Json.Serialization;

namespace Harness.Core.Traces;

/// <summary>
/// The Q-GaLore projector case of a golden manifest: one weight's gradient sequence run through the
/// reference projector alone (INT4 projection, adaptive update gap). Its trace holds projector outputs
/// (<c>qgalore.low.&lt;t&gt;</c>, <c>qgalore.back.&lt;t&gt;</c>), not parameters.
/// </summary>
public sealed record GoldenQGaloreProjector
{
    [JsonPropertyName("param")] public string Param { get; init; } = "";
    [JsonPropertyName("rank")] public int Rank { get; init; }
    [JsonPropertyName("update_proj_gap")] public int UpdateProjGap { get; init; }
    [JsonPropertyName("scale")] public double Scale { get; init; }
    [JsonPropertyName("group_size")] public int GroupSize { get; init; }
    [JsonPropertyName("n_bit")] public int NBit { get; init; }
    [JsonPropertyName("cos_threshold")] public double CosThreshold { get; init; }
    [JsonPropertyName("gamma_proj")] public int GammaProj { get; init; }
    [JsonPropertyName("queue_size")] public int QueueSize { get; init; }

    /// <summary>The projection gap in force after each step: it doubles while the subspace stays put.</summary>
    [JsonPropertyName("qgalore_update_proj_gap_after_step")] public IReadOnlyList<int> UpdateProjGapAfterStep { get; init; } = [];

    /// <summary>How many SVDs the reference ran over the whole sequence.</summary>
    [JsonPropertyName("qgalore_svd_count")] public int SvdCount { get; init; }
}
