using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>The <c>model.</c> part of HF's LlamaForCausalLM: embedding, layers and final norm, returning hidden states.</summary>
internal sealed class LlamaDecoder : nn.Module<Tensor, Tensor>
{
    private readonly TokenEmbedding embed_tokens;
    private readonly ModuleList<LlamaDecoderLayer> layers;
    private readonly RmsNorm norm;
    private readonly LlamaConfig config;

    public LlamaDecoder(LlamaConfig c, Generator init) : base("model")
    {
        config = c;
        embed_tokens = new TokenEmbedding(c.VocabSize, c.Hidden, c.InitStd, init);
        layers = new ModuleList<LlamaDecoderLayer>();
        for (var i = 0; i < c.Layers; i++) layers.Add(new LlamaDecoderLayer(i, c, init));
        norm = new RmsNorm(nameof(norm), c.Hidden, c.RmsNormEps);
        register_module(nameof(embed_tokens), embed_tokens);
        register_module(nameof(layers), layers);
        register_module(nameof(norm), norm);
    }

    public override Tensor forward(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        var (cos, sin) = RotaryEmbedding.Tables((int)tokens.shape[1], config.HeadDim, config.RopeTheta, tokens.device);
        var x = embed_tokens.forward(tokens);
        foreach (var layer in layers) x = layer.forward(x, cos, sin);
        return norm.forward(x).MoveToOuterDisposeScope();
    }
}
