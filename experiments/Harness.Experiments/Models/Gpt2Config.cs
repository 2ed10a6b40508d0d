using System.Collections.Frozen;
using Harness.Optimizers;

namespace Harness.Experiments.Models;

/// <summary>
/// Shape of a GPT-2 decoder: d (hidden), L (layers), H (heads), T (context, the learned position table),
/// V (vocab, from the tokenizer or <c>workload.vocab_size</c>). The MLP is 4d wide as in GPT-2.
/// </summary>
public sealed record Gpt2Config(int VocabSize, int Hidden, int Layers, int Heads, int Context)
{
    public double LayerNormEps { get; init; } = 1e-5;
    /// <summary>Std of the normal init (GPT-2's <c>initializer_range</c>); residual output projections use std/√(2L).</summary>
    public double InitStd { get; init; } = 0.02;
    /// <summary>bitsandbytes' StableEmbedding (<see cref="Models.StableEmbedding"/>) as the token table (still tied to the head).</summary>
    public bool StableEmbedding { get; init; }

    public int HeadDim => Hidden / Heads;

    public int Ffn => 4 * Hidden;

    /// <summary>
    /// Exact trainable parameter count with the head tied to the token table: Vd + Td, per layer
    /// two LayerNorms (4d), qkv (3d² + 3d), attention out (d² + d), MLP (8d² + 5d), and the final LayerNorm (2d).
    /// GPT-2 small (V 50257, T 1024) gives 124,439,808. A stable embedding adds its LayerNorm (2d).
    /// </summary>
    public long ParameterCount =>
        (long)VocabSize * Hidden + (long)Context * Hidden
        + (long)Layers * (12L * Hidden * Hidden + 13L * Hidden)
        + 2L * Hidden + (StableEmbedding ? 2L * Hidden : 0);

    /// <summary>
    /// Every parameter <see cref="Gpt2"/> creates, in its <c>named_parameters()</c> order, from the shape alone
    /// (the head is the token table, so it adds none; a test holds this list equal to the instantiated model's).
    /// </summary>
    public IReadOnlyList<ParameterShape> ParameterShapes()
    {
        long d = Hidden, f = Ffn;
        var shapes = new List<ParameterShape>
        {
            new("transformer.wte.weight", [VocabSize, d], ParamRole.Embedding),
            new("transformer.wpe.weight", [Context, d], ParamRole.Embedding),
        };
        void Norm(string name)
        {
            shapes.Add(new($"{name}.weight", [d], ParamRole.Vector));
            shapes.Add(new($"{name}.bias", [d], ParamRole.Vector));
        }
        void Dense(string name, long inFeatures, long outFeatures)
        {
            shapes.Add(new($"{name}.weight", [outFeatures, inFeatures], ParamRole.Matrix));
            shapes.Add(new($"{name}.bias", [outFeatures], ParamRole.Vector));
        }
        for (var i = 0; i < Layers; i++)
        {
            var block = $"transformer.h.{i}";
            Norm($"{block}.ln_1");
            Dense($"{block}.attn.c_attn", d, 3 * d);
            Dense($"{block}.attn.c_proj", d, d);
            Norm($"{block}.ln_2");
            Dense($"{block}.mlp.c_fc", d, f);
            Dense($"{block}.mlp.c_proj", f, d);
        }
        Norm("transformer.ln_f");
        return shapes;
    }

    // (hidden, heads, layers, context). small/medium/large/xl are OpenAI's GPT-2 shapes; "tiny" is ours, for CPU smoke runs.
    private static readonly FrozenDictionary<string, (int Hidden, int Heads, int Layers, int Context)> Presets =
        new Dictionary<string, (int, int, int, int)>(StringComparer.Ordinal)
        {
            ["tiny"] = (64, 4, 2, 128),
            ["small"] = (768, 12, 12, 1024),
            ["medium"] = (1024, 16, 24, 1024),
            ["large"] = (1280, 20, 36, 1024),
            ["xl"] = (1600, 25, 48, 1024),
        }.ToFrozenDictionary(StringComparer.Ordinal);

    public static IReadOnlyList<string> KnownSizes { get; } = ["tiny", "small", "medium", "large", "xl"];

    /// <summary>The preset <paramref name="size"/> with explicit overrides; throws <see cref="ArgumentException"/> when invalid.</summary>
    public static Gpt2Config Resolve(string size, int vocabSize, int? hidden = null, int? layers = null, int? heads = null, int? context = null)
    {
        if (!Presets.TryGetValue(size, out var p))
            throw new ArgumentException($"unknown gpt2 size '{size}'; known sizes: {string.Join(", ", KnownSizes)}", nameof(size));
        var config = new Gpt2Config(vocabSize, hidden ?? p.Hidden, layers ?? p.Layers, heads ?? p.Heads, context ?? p.Context);
        config.EnsureValid();
        return config;
    }

    /// <summary>The config a <see cref="Workloads.Gpt2Spec"/> asks for.</summary>
    public static Gpt2Config FromSpec(Workloads.Gpt2Spec spec, int vocabSize) =>
        Resolve(spec.Size, vocabSize, spec.Hidden, spec.Layers, spec.Heads, spec.Context) with { StableEmbedding = spec.StableEmbedding == true };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first inconsistent dimension.</summary>
    public void EnsureValid()
    {
        if (VocabSize < 1) throw new ArgumentException($"vocab size must be >= 1 (got {VocabSize})");
        if (Hidden < 1 || Layers < 1 || Heads < 1 || Context < 1)
            throw new ArgumentException($"hidden, layers, heads and context must be >= 1 (got {Hidden}, {Layers}, {Heads}, {Context})");
        if (Hidden % Heads != 0)
            throw new ArgumentException($"hidden ({Hidden}) must be divisible by heads ({Heads})");
    }
}
