using System.Collections.Frozen;
using Harness.Optimizers;
using Harness.Experiments.Workloads;

namespace Harness.Experiments.Models;

/// <summary>
/// Shape of a LLaMA-style decoder. Keys d (hidden), L (layers), H (heads), ffn (SwiGLU width), V (vocab).
/// The vocabulary comes from the tokenizer (or <c>workload.vocab_size</c>), not from the preset.
/// </summary>
public sealed record LlamaConfig(int VocabSize, int Hidden, int Layers, int Heads, int Ffn)
{
    private readonly int? kvHeads;

    /// <summary>RoPE base; 10000 as in LLaMA-1/2 and the GaLore configs, 500000 for Llama-3.</summary>
    public double RopeTheta { get; init; } = 10000;
    /// <summary>
    /// Key/value heads (grouped-query attention, HF <c>num_key_value_heads</c>): k_proj and v_proj have
    /// KvHeads × HeadDim outputs and each kv head serves Heads / KvHeads query heads. Defaults to <see cref="Heads"/>
    /// (plain multi-head attention).
    /// </summary>
    public int KvHeads { get => kvHeads ?? Heads; init => kvHeads = value == Heads ? null : value; }
    /// <summary>The LM head reuses the embedding matrix (HF <c>tie_word_embeddings</c>); then it has no weight of its own.</summary>
    public bool TieEmbeddings { get; init; }
    /// <summary>Llama-3.1's RoPE frequency scaling (HF <c>rope_scaling</c>, <c>rope_type: llama3</c>); null = none.</summary>
    public RopeScaling? RopeScaling { get; init; }
    public double RmsNormEps { get; init; } = 1e-6;
    /// <summary>Std of the normal init of every linear and embedding weight (HF <c>initializer_range</c>).</summary>
    public double InitStd { get; init; } = 0.02;
    /// <summary>bitsandbytes' StableEmbedding (<see cref="Models.StableEmbedding"/>) in place of the plain token table.</summary>
    public bool StableEmbedding { get; init; }

    public int HeadDim => Hidden / Heads;

    /// <summary>Width of k_proj and v_proj: KvHeads × HeadDim (= Hidden without grouped-query attention).</summary>
    public int KvWidth => KvHeads * HeadDim;

    /// <summary>
    /// Exact trainable parameter count: embedding and, untied, the head (Vd each), per layer the q/o (d×d) and
    /// k/v (kv×d) attention projections, three d×ffn MLP projections and two norms, plus the final norm (and a stable
    /// embedding's LayerNorm, 2d).
    /// </summary>
    public long ParameterCount =>
        (TieEmbeddings ? 1L : 2L) * VocabSize * Hidden
        + (long)Layers * (2L * Hidden * Hidden + 2L * KvWidth * Hidden + 3L * Hidden * Ffn + 2L * Hidden) + Hidden
        + (StableEmbedding ? 2L * Hidden : 0);

    /// <summary>
    /// Every parameter <see cref="Llama"/> creates, in its <c>named_parameters()</c> order, from the shape alone
    /// (a test holds this list equal to the instantiated model's).
    /// </summary>
    public IReadOnlyList<ParameterShape> ParameterShapes()
    {
        long d = Hidden, f = Ffn, v = VocabSize, kv = KvWidth;
        var shapes = new List<ParameterShape> { new("model.embed_tokens.weight", [v, d], ParamRole.Embedding) };
        for (var i = 0; i < Layers; i++)
        {
            var layer = $"model.layers.{i}";
            foreach (var (name, rows) in (ReadOnlySpan<(string, long)>)[("q_proj", d), ("k_proj", kv), ("v_proj", kv), ("o_proj", d)])
                shapes.Add(new($"{layer}.self_attn.{name}.weight", [rows, d], ParamRole.Matrix));
            shapes.Add(new($"{layer}.mlp.gate_proj.weight", [f, d], ParamRole.Matrix));
            shapes.Add(new($"{layer}.mlp.up_proj.weight", [f, d], ParamRole.Matrix));
            shapes.Add(new($"{layer}.mlp.down_proj.weight", [d, f], ParamRole.Matrix));
            shapes.Add(new($"{layer}.input_layernorm.weight", [d], ParamRole.Vector));
            shapes.Add(new($"{layer}.post_attention_layernorm.weight", [d], ParamRole.Vector));
        }
        shapes.Add(new("model.norm.weight", [d], ParamRole.Vector));
        if (!TieEmbeddings) shapes.Add(new("lm_head.weight", [v, d], ParamRole.OutputHead));
        return shapes;
    }

    // (hidden, ffn, heads, layers, kv heads, rope theta, rope scaling). "tiny" is ours, sized for a ~200-step CPU run. The others are the
    // hidden_size / intermediate_size / num_attention_heads / num_hidden_layers of the GaLore repository's
    // configs/llama_<size>.json (github.com/jiaweizzhao/GaLore, commit 8460814), read one by one; their
    // vocab_size (32000, 32100 for 100m) is not part of the preset: the vocabulary is the tokenizer's, or
    // workload.vocab_size for the papers' exact shapes. SWAN's "1.3B" is GaLore's 1b config (1.34B parameters with
    // 32,000 tokens), so it has no preset of its own. "llama3-8b" is meta-llama/Llama-3.1-8B's config.json
    // (hidden_size 4096, intermediate_size 14336, 32 heads, 8 key/value heads, 32 layers, rope_theta 500000, rope_scaling
    // llama3 with factor 8, untied; vocab_size 128256 is again workload.vocab_size).
    private static readonly FrozenDictionary<string, Preset> Presets =
        new Dictionary<string, Preset>(StringComparer.Ordinal)
        {
            ["tiny"] = new(128, 352, 4, 2),
            ["9m"] = new(128, 352, 4, 4),
            ["20m"] = new(256, 688, 4, 4),
            ["35m"] = new(384, 1024, 8, 6),
            ["40m"] = new(416, 1024, 8, 8),
            ["60m"] = new(512, 1376, 8, 8),
            ["71m"] = new(512, 1368, 8, 12),
            ["100m"] = new(640, 1708, 10, 12),
            ["130m"] = new(768, 2048, 12, 12),
            ["250m"] = new(768, 2560, 16, 24),
            ["350m"] = new(1024, 2736, 16, 24),
            ["1b"] = new(2048, 5461, 32, 24),
            ["3b"] = new(2560, 6848, 32, 32),
            ["7b"] = new(4096, 11008, 32, 32),
            ["llama3-8b"] = new(4096, 14336, 32, 32, KvHeads: 8, RopeTheta: 500000, Scaling: Models.RopeScaling.Llama31),
        }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>Preset names, smallest first.</summary>
    public static IReadOnlyList<string> KnownSizes { get; } =
        ["tiny", "9m", "20m", "35m", "40m", "60m", "71m", "100m", "130m", "250m", "350m", "1b", "3b", "7b", "llama3-8b"];

    private sealed record Preset(int Hidden, int Ffn, int Heads, int Layers, int? KvHeads = null, double RopeTheta = 10000, RopeScaling? Scaling = null);

    /// <summary>The preset <paramref name="size"/> with explicit overrides; throws <see cref="ArgumentException"/> when invalid.</summary>
    /// <remarks>
    /// A preset's kv heads hold only while <paramref name="heads"/> is not overridden (overriding heads alone
    /// gives plain multi-head attention unless <paramref name="kvHeads"/> says otherwise).
    /// </remarks>
    public static LlamaConfig Resolve(string size, int vocabSize, int? hidden = null, int? layers = null, int? heads = null, int? ffn = null,
        int? kvHeads = null, double? ropeTheta = null, bool? tieEmbeddings = null)
    {
        if (!Presets.TryGetValue(size, out var p))
            throw new ArgumentException($"unknown llama size '{size}'; known sizes: {string.Join(", ", KnownSizes)}", nameof(size));
        var h = heads ?? p.Heads;
        var config = new LlamaConfig(vocabSize, hidden ?? p.Hidden, layers ?? p.Layers, h, ffn ?? p.Ffn)
        {
            KvHeads = kvHeads ?? (heads is null ? p.KvHeads ?? h : h),
            RopeTheta = ropeTheta ?? p.RopeTheta,
            RopeScaling = p.Scaling,
            TieEmbeddings = tieEmbeddings ?? false,
        };
        config.EnsureValid();
        return config;
    }

    /// <summary>The config a <see cref="LlamaSpec"/> asks for.</summary>
    public static LlamaConfig FromSpec(LlamaSpec spec, int vocabSize) =>
        Resolve(spec.Size, vocabSize, spec.Hidden, spec.Layers, spec.Heads, spec.Ffn, spec.KvHeads, spec.RopeTheta, spec.TieEmbeddings)
            with { StableEmbedding = spec.StableEmbedding == true };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first inconsistent dimension.</summary>
    public void EnsureValid()
    {
        if (VocabSize < 1) throw new ArgumentException($"vocab size must be >= 1 (got {VocabSize})");
        if (Hidden < 1 || Layers < 1 || Heads < 1 || Ffn < 1)
            throw new ArgumentException($"hidden, layers, heads and ffn must be >= 1 (got {Hidden}, {Layers}, {Heads}, {Ffn})");
        if (Hidden % Heads != 0)
            throw new ArgumentException($"hidden ({Hidden}) must be divisible by heads ({Heads})");
        if (KvHeads < 1 || Heads % KvHeads != 0)
            throw new ArgumentException($"kv_heads ({KvHeads}) must be >= 1 and divide heads ({Heads})");
        if (!(RopeTheta > 0 && double.IsFinite(RopeTheta)))
            throw new ArgumentException($"rope_theta must be a finite number > 0 (got {RopeTheta:R})");
        // RoPE rotates pairs of channels, so each head needs an even width.
        if (HeadDim % 2 != 0)
            throw new ArgumentException($"head dim hidden/heads = {Hidden}/{Heads} = {HeadDim} must be even for rotary embeddings");
    }
}
