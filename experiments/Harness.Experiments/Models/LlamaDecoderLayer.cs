using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>One pre-norm block: x + attn(norm(x)), then + mlp(norm(.)).</summary>
internal sealed class LlamaDecoderLayer : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    private readonly LlamaAttention self_attn;
    private readonly LlamaMlp mlp;
    private readonly RmsNorm input_layernorm, post_attention_layernorm;

    public LlamaDecoderLayer(int index, LlamaConfig c, Generator init) : base($"layer{index}")
    {
        // Construction order fixes the order weights are drawn from the generator; registration order
        // below fixes the parameter order (HF's: self_attn, mlp, input_layernorm, post_attention_layernorm).
        self_attn = new LlamaAttention(c, init);
        mlp = new LlamaMlp(c, init);
        input_layernorm = new RmsNorm(nameof(input_layernorm), c.Hidden, c.RmsNormEps);
        post_attention_layernorm = new RmsNorm(nameof(post_attention_layernorm), c.Hidden, c.RmsNormEps);
        register_module(nameof(self_attn), self_attn);
        register_module(nameof(mlp), mlp);
        register_module(nameof(input_layernorm), input_layernorm);
        register_module(nameof(post_attention_layernorm), post_attention_layernorm);
    }

    public override Tensor forward(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        var h = x + self_attn.forward(input_layernorm.forward(x), cos, sin);
        var y = h + mlp.forward(post_attention_layernorm.forward(h));
        return y.MoveToOuterDisposeScope();
    }
}
