namespace Harness.Core.Packs;

/// <summary>
/// The capabilities the harness declares to the paper packs, built or not: a claim's <c>needs</c> names ids from this
/// list (others are load errors). A branch that builds one flips its <see cref="HarnessFeature.Available"/> to true and
/// removes the id from the packs' <c>needs</c>.
/// </summary>
public static class HarnessFeatures
{
    public static IReadOnlyList<HarnessFeature> All { get; } =
    [
        new("per_layer_updates", "per-layer weight updates (step_mode per_layer)", true),
        new("grouped_query_attention", "grouped-query attention (workload.kv_heads)", true),
        new("llama3_shapes", "Llama-3.1-8B shapes (the llama3-8b preset: 8 key-value heads, rope_theta 500,000, vocab_size 128,256)", true),
        new("mixed_precision", "training.dtype mixed (bf16 compute, fp32 master weights and state)", true),
        new("activation_checkpointing", "training.activation_checkpointing", true),
        new("gpt2_fused_backward", "step_mode fused_backward for the GPT-2 workload", true),
        new("adafactor", "an Adafactor optimizer", true),
        new("stable_embedding", "a stable embedding (workload.stable_embedding)", true),
        new("int8_weight_storage", "INT8 weight storage for Q-GaLore (weights held as int8 with group scales)", true),
        new("forge_int8_state", "FORGE's int8 moment storage (8-bit Adam with forge_state int8 on the tensor-core tile)", true),
        new("adam8bit_linear_map", "a linear (non-dynamic) quantization map option for 8-bit Adam", false),
        new("cross_experiment_measure", "a claim measure that compares runs of two experiments (two workloads)", false),
    ];

    /// <summary>The feature named <paramref name="id"/>, or null.</summary>
    public static HarnessFeature? Find(string id) => All.FirstOrDefault(f => string.Equals(f.Id, id, StringComparison.Ordinal));
}
