using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>
/// GPT-2 (Radford et al. 2019): learned token and position tables, pre-LayerNorm blocks with biases,
/// GELU MLP 4d wide, final LayerNorm, and the output head tied to the token table (so it adds no
/// parameters and the table keeps the <see cref="ParamRole.Embedding"/> role). Parameter names follow
/// HF's GPT2LMHeadModel (<c>transformer.h.0.attn.c_attn.weight</c>, …) with weights stored [out, in].
/// </summary>
public sealed class Gpt2 : nn.Module<Tensor, Tensor>, ICausalLanguageModel
{
    private readonly Gpt2Trunk transformer;

    /// <summary>Builds the model on the CPU in float32, every weight drawn from <paramref name="init"/>.</summary>
    public Gpt2(Gpt2Config config, Generator init) : base(nameof(Gpt2))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.EnsureValid();
        Config = config;
        transformer = new Gpt2Trunk(config, init);
        register_module(nameof(transformer), transformer);
    }

    public Gpt2Config Config { get; }

    public int VocabSize => Config.VocabSize;

    public int? MaxSequenceLength => Config.Context;

    public long ParameterCount => Config.ParameterCount;

    public nn.Module Module => this;

    /// <summary>[batch, seq] int64 ids (seq ≤ context) -> [batch, seq, vocab] logits.</summary>
    public override Tensor forward(Tensor tokens)
    {
        if (tokens.shape[1] > Config.Context)
            throw new ArgumentException($"sequence of {tokens.shape[1]} tokens is longer than the context ({Config.Context})", nameof(tokens));
        using var hidden = transformer.forward(tokens);
        return transformer.Head(hidden);
    }

    public Tensor Logits(Tensor tokens) => forward(tokens);

    /// <summary>
    /// <c>training.dtype: mixed</c> as PyTorch's autocast runs GPT-2: every dense layer (c_attn, c_proj, c_fc) and the
    /// tied head multiply in <paramref name="compute"/> (bf16) from fp32 weights and biases, so attention and the GELU
    /// run in bf16, while the tables, the residual stream (fp32 + bf16 promotes to fp32), the LayerNorms and the loss
    /// (the workload casts logits to fp32) stay fp32. Null restores the weights' dtype.
    /// </summary>
    public void ComputeIn(ScalarType? compute) => MixedPrecision.ComputeIn(this, compute);

    public IReadOnlyList<NamedParameter> NamedParameters() => ParameterRoles.Collect(this);

    /// <summary>
    /// The weights of every dense layer (c_attn, c_proj, c_fc; one consumer each): FORGE and per-layer updates route
    /// their <c>input · weightᵀ</c> and add the bias outside the route. The head is tied to the token table (two
    /// consumers), so the table, the biases and the LayerNorms take the standard path.
    /// </summary>
    public IReadOnlyList<string> ProjectionWeights() =>
        named_modules().Where(m => m.module is Dense).Select(m => $"{m.name}.weight").ToList();

    /// <summary>Routes every dense layer's training forward through <paramref name="route"/> (null restores <c>F.linear</c>).</summary>
    public void RouteProjections(ILinearRoute? route)
    {
        foreach (var (name, module) in named_modules())
            if (module is Dense dense) dense.RouteThrough(route, $"{name}.weight");
    }
}
