using Harness.Experiments.Models;
using Harness.Optimizers;

namespace Harness.Core.Bench;

/// <summary>One tensor of a synthetic parameter set.</summary>
public sealed record BenchTensor(string Name, long[] Shape, ParamRole Role)
{
    public long Numel => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>A named set of parameter shapes: a real model's, without the model.</summary>
public sealed record ParameterSet(string Name, string Description, IReadOnlyList<BenchTensor> Tensors)
{
    /// <summary>
    /// Rank of the low-rank projections at this size: a quarter of the hidden width, GaLore's LLaMA rule (128 at 60M,
    /// 512 at 1B), which the throughput configs use too.
    /// </summary>
    public required int Rank { get; init; }

    public long Count => Tensors.Sum(t => t.Numel);
}

/// <summary>
/// The parameter sets of the optimizer-step anchors (specs/measurement.md, Appendix A): GPT-2 small
/// (124,439,808 parameters, tied embedding, Conv1D weight layout) and a LLaMA-like 1.5B (Llama-3.2-1B's
/// shapes with an untied head: 16 layers, d 2048, ffn 8192, 8 KV heads of 64, vocab 128256;
/// 1,498,482,688 parameters), and the LLaMA-60M and LLaMA-1B of the GaLore configs from the harness's own presets
/// (<see cref="LlamaConfig"/>, vocabulary 32,000 as the papers train them; 58,073,600 and 1,339,082,752 parameters), so
/// the shapes are those the training configs run.
/// </summary>
public static class ParameterSets
{
    public static ParameterSet Gpt2Small { get; } = Gpt2();
    public static ParameterSet Llama1_5B { get; } = Llama();
    public static ParameterSet Llama60M { get; } = FromPreset("60m", "LLaMA-60M (GaLore's llama_60m, vocab 32000)");
    public static ParameterSet Llama1B { get; } = FromPreset("1b", "LLaMA-1B (GaLore's llama_1b, vocab 32000)");

    /// <summary>Smallest first.</summary>
    public static IReadOnlyList<ParameterSet> All { get; } = [Llama60M, Gpt2Small, Llama1B, Llama1_5B];

    /// <summary>The vocabulary of the LLaMA presets' sets: the T5 tokenizer of the GaLore runs.</summary>
    public const int PresetVocab = 32000;

    public static ParameterSet? Find(string name) => All.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase));

    private static ParameterSet Gpt2()
    {
        const long d = 768, vocab = 50257, context = 1024, layers = 12;
        var t = new List<BenchTensor> { new("wte", [vocab, d], ParamRole.Embedding), new("wpe", [context, d], ParamRole.Embedding) };
        for (var l = 0; l < layers; l++)
        {
            var h = $"h{l}.";
            t.Add(new(h + "ln_1.weight", [d], ParamRole.Vector));
            t.Add(new(h + "ln_1.bias", [d], ParamRole.Vector));
            t.Add(new(h + "attn.c_attn.weight", [d, 3 * d], ParamRole.Matrix));
            t.Add(new(h + "attn.c_attn.bias", [3 * d], ParamRole.Vector));
            t.Add(new(h + "attn.c_proj.weight", [d, d], ParamRole.Matrix));
            t.Add(new(h + "attn.c_proj.bias", [d], ParamRole.Vector));
            t.Add(new(h + "ln_2.weight", [d], ParamRole.Vector));
            t.Add(new(h + "ln_2.bias", [d], ParamRole.Vector));
            t.Add(new(h + "mlp.c_fc.weight", [d, 4 * d], ParamRole.Matrix));
            t.Add(new(h + "mlp.c_fc.bias", [4 * d], ParamRole.Vector));
            t.Add(new(h + "mlp.c_proj.weight", [4 * d, d], ParamRole.Matrix));
            t.Add(new(h + "mlp.c_proj.bias", [d], ParamRole.Vector));
        }
        t.Add(new("ln_f.weight", [d], ParamRole.Vector));
        t.Add(new("ln_f.bias", [d], ParamRole.Vector));
        return new("gpt2-124m", "GPT-2 small (124M, tied embedding)", t) { Rank = (int)d / 4 };
    }

    private static ParameterSet Llama()
    {
        const long d = 2048, ffn = 8192, kv = 512, vocab = 128256, layers = 16;
        var t = new List<BenchTensor> { new("embed_tokens", [vocab, d], ParamRole.Embedding) };
        for (var l = 0; l < layers; l++)
        {
            var h = $"layers.{l}.";
            t.Add(new(h + "self_attn.q_proj.weight", [d, d], ParamRole.Matrix));
            t.Add(new(h + "self_attn.k_proj.weight", [kv, d], ParamRole.Matrix));
            t.Add(new(h + "self_attn.v_proj.weight", [kv, d], ParamRole.Matrix));
            t.Add(new(h + "self_attn.o_proj.weight", [d, d], ParamRole.Matrix));
            t.Add(new(h + "mlp.gate_proj.weight", [ffn, d], ParamRole.Matrix));
            t.Add(new(h + "mlp.up_proj.weight", [ffn, d], ParamRole.Matrix));
            t.Add(new(h + "mlp.down_proj.weight", [d, ffn], ParamRole.Matrix));
            t.Add(new(h + "input_layernorm.weight", [d], ParamRole.Vector));
            t.Add(new(h + "post_attention_layernorm.weight", [d], ParamRole.Vector));
        }
        t.Add(new("norm.weight", [d], ParamRole.Vector));
        t.Add(new("lm_head.weight", [vocab, d], ParamRole.OutputHead));
        return new("llama-1.5b", "LLaMA-like 1.5B (Llama-3.2-1B shapes, untied head)", t) { Rank = (int)d / 4 };
    }

    private static ParameterSet FromPreset(string size, string description)
    {
        var config = LlamaConfig.Resolve(size, PresetVocab);
        return new($"llama-{size}", description, config.ParameterShapes().Select(p => new BenchTensor(p.Name, [.. p.Shape], p.Role)).ToList())
            { Rank = config.Hidden / 4 };
    }
}
