using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>A pre-norm transformer block as in GPT-2 and ViT: x + attn(ln_1(x)), then + mlp(ln_2(.)).</summary>
internal sealed class TransformerBlock : nn.Module<Tensor, Tensor>
{
    private readonly LayerNorm ln_1, ln_2;
    private readonly SelfAttention attn;
    private readonly GeluMlp mlp;

    /// <param name="residualStd">Init std of the two projections that write into the residual stream.</param>
    public TransformerBlock(int index, int hidden, int heads, int ffn, bool causal, double eps, double std, double residualStd, Generator init)
        : base($"block{index}")
    {
        ln_1 = new LayerNorm(nameof(ln_1), hidden, eps);
        attn = new SelfAttention(hidden, heads, causal, std, residualStd, init);
        ln_2 = new LayerNorm(nameof(ln_2), hidden, eps);
        mlp = new GeluMlp(hidden, ffn, std, residualStd, init);
        register_module(nameof(ln_1), ln_1);
        register_module(nameof(attn), attn);
        register_module(nameof(ln_2), ln_2);
        register_module(nameof(mlp), mlp);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = x + attn.forward(ln_1.forward(x));
        var y = h + mlp.forward(ln_2.forward(h));
        return y.MoveToOuterDisposeScope();
    }
}
