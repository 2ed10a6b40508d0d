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
        return nn.functional.linear(hidden, transformer.TokenTable);
    }

    public Tensor Logits(Tensor tokens) => forward(tokens);

    public IReadOnlyList<NamedParameter> NamedParameters() => ParameterRoles.Collect(this);

    /// <summary>
    /// None yet: GPT-2's linear layers carry biases (and the head is tied to the embedding), which the
    /// fused-backward function does not handle, so under FORGE every GPT-2 weight takes the standard path.
    /// </summary>
    public IReadOnlyList<string> ProjectionWeights() => [];

    public void RouteProjections(ILinearRoute? route) { }
}
