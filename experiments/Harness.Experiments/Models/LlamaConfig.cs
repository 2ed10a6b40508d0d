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
    /// <summary>RoPE base; 10000 as in LLaMA-1/2 and the GaLore configs.</summary>
    public double RopeTheta { get; init; } = 10000;
    public double RmsNormEps { get; init; } = 1e-6;
    /// <summary>Std of the normal init of every linear and embedding weight (HF <c>initializer_range</c>).</summary>
    public double InitStd { get; init; } = 0.02;
    /// <summary>bitsandbytes' StableEmbedding (<see cref="Models.StableEmbedding"/>) in place of the plain token table.</summary>
    public bool StableEmbedding { get; init; }

    public int HeadDim => Hidden / Heads;

    /// <summary>
    /// Exact trainable parameter count: embedding and untied head (2Vd), per layer four d×d attention
    /// projections, three d×ffn MLP projections and two norms, plus the final norm (and a stable embedding's
    /// LayerNorm, 2d).
    /// </summary>
    public long ParameterCount =>
        2L * VocabSize * Hidden + (long)Layers * (4L * Hidden * Hidden + 3L * Hidden * Ffn + 2L * Hidden) + Hidden
        + (StableEmbedding ? 2L * Hidden : 0);

    /// <summary>
    /// Every parameter <see cref="Llama"/> creates, in its <c>named_parameters()</c> order, from the shape alone
    /// (a test holds this list equal to the instantiated model's).
    /// </summary>
    public IReadOnlyList<ParameterShape> ParameterShapes()
    {
        long d = Hidden, f = Ffn, v = VocabSize;
        var shapes = new List<ParameterShape> { new("model.embed_tokens.weight", [v, d], ParamRole.Embedding) };
        for (var i = 0; i < Layers; i++)
        {
            var layer = $"model.layers.{i}";
            foreach (var name in (string[])["q_proj", "k_proj", "v_proj", "o_proj"])
                shapes.Add(new($"{layer}.self_attn.{name}.weight", [d, d], ParamRole.Matrix));
            shapes.Add(new($"{layer}.mlp.gate_proj.weight", [f, d], ParamRole.Matrix));
            shapes.Add(new($"{layer}.mlp.up_proj.weight", [f, d], ParamRole.Matrix));
            shapes.Add(new($"{layer}.mlp.down_proj.weight", [d, f], ParamRole.Matrix));
            shapes.Add(new($"{layer}.input_layernorm.weight", [d], ParamRole.Vector));
            shapes.Add(new($"{layer}.post_attention_layernorm.weight", [d], ParamRole.Vector));
        }
        shapes.Add(new("model.norm.weight", [d], ParamRole.Vector));
        shapes.Add(new("lm_head.weight", [v, d], ParamRole.OutputHead));
        return shapes;
    }

    // (hidden, ffn, heads, layers). "tiny" is ours, sized for a ~200-step CPU run. The others are the
    // hidden_size / intermediate_size / num_attention_heads / num_hidden_layers of the GaLore repository's
    // configs/llama_<size>.json (github.com/jiaweizzhao/GaLore, commit 8460814), read one by one; their
    // vocab_size (32000, 32100 for 100m) is not part of the preset: the vocabulary is the tokenizer's, or
    // workload.vocab_size for the papers' exact shapes.
    private static readonly FrozenDictionary<string, (int Hidden, int Ffn, int Heads, int Layers)> Presets =
        new Dictionary<string, (int, int, int, int)>(StringComparer.Ordinal)
        {
            ["tiny"] = (128, 352, 4, 2),
            ["9m"] = (128, 352, 4, 4),
            ["20m"] = (256, 688, 4, 4),
            ["35m"] = (384, 1024, 8, 6),
            ["40m"] = (416, 1024, 8, 8),
            ["60m"] = (512, 1376, 8, 8),
            ["71m"] = (512, 1368, 8, 12),
            ["100m"] = (640, 1708, 10, 12),
            ["130m"] = (768, 2048, 12, 12),
            ["250m"] = (768, 2560, 16, 24),
            ["350m"] = (1024, 2736, 16, 24),
            ["1b"] = (2048, 5461, 32, 24),
            ["3b"] = (2560, 6848, 32, 32),
            ["7b"] = (4096, 11008, 32, 32),
        }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>Preset names, smallest first.</summary>
    public static IReadOnlyList<string> KnownSizes { get; } =
        ["tiny", "9m", "20m", "35m", "40m", "60m", "71m", "100m", "130m", "250m", "350m", "1b", "3b", "7b"];

    /// <summary>The preset <paramref name="size"/> with explicit overrides; throws <see cref="ArgumentException"/> when invalid.</summary>
    public static LlamaConfig Resolve(string size, int vocabSize, int? hidden = null, int? layers = null, int? heads = null, int? ffn = null)
    {
        if (!Presets.TryGetValue(size, out var p))
            throw new ArgumentException($"unknown llama size '{size}'; known sizes: {string.Join(", ", KnownSizes)}", nameof(size));
        var config = new LlamaConfig(vocabSize, hidden ?? p.Hidden, layers ?? p.Layers, heads ?? p.Heads, ffn ?? p.Ffn);
        config.EnsureValid();
        return config;
    }

    /// <summary>The config a <see cref="LlamaSpec"/> asks for.</summary>
    public static LlamaConfig FromSpec(LlamaSpec spec, int vocabSize) =>
        Resolve(spec.Size, vocabSize, spec.Hidden, spec.Layers, spec.Heads, spec.Ffn) with { StableEmbedding = spec.StableEmbedding == true };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first inconsistent dimension.</summary>
    public void EnsureValid()
    {
        if (VocabSize < 1) throw new ArgumentException($"vocab size must be >= 1 (got {VocabSize})");
        if (Hidden < 1 || Layers < 1 || Heads < 1 || Ffn < 1)
            throw new ArgumentException($"hidden, layers, heads and ffn must be >= 1 (got {Hidden}, {Layers}, {Heads}, {Ffn})");
        if (Hidden % Heads != 0)
            throw new ArgumentException($"hidden ({Hidden}) must be divisible by heads ({Heads})");
        // RoPE rotates pairs of channels, so each head needs an even width.
        if (HeadDim % 2 != 0)
            throw new ArgumentException($"head dim hidden/heads = {Hidden}/{Heads} = {HeadDim} must be even for rotary embeddings");
    }
}
