using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>
/// Multi-head self-attention with a fused qkv projection (<c>c_attn</c>, with bias) and an output
/// projection (<c>c_proj</c>), named as in GPT-2. Causal for GPT-2, bidirectional for ViT.
/// </summary>
internal sealed class SelfAttention : nn.Module<Tensor, Tensor>
{
    private readonly Dense c_attn, c_proj;
    private readonly int heads, headDim;
    private readonly bool causal;

    public SelfAttention(int hidden, int heads, bool causal, double std, double residualStd, Generator init) : base("attn")
    {
        this.heads = heads;
        headDim = hidden / heads;
        this.causal = causal;
        c_attn = new Dense(nameof(c_attn), hidden, 3L * hidden, ParamRole.Matrix, std, init);
        c_proj = new Dense(nameof(c_proj), hidden, hidden, ParamRole.Matrix, residualStd, init);
        register_module(nameof(c_attn), c_attn);
        register_module(nameof(c_proj), c_proj);
    }

    /// <summary>x [batch, seq, hidden] -> [batch, seq, hidden].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        var qkv = c_attn.forward(x).view(b, t, 3, heads, headDim).permute(2, 0, 3, 1, 4);
        var y = nn.functional.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], is_casual: causal);
        var merged = y.transpose(1, 2).reshape(b, t, (long)heads * headDim);
        return c_proj.forward(merged).MoveToOuterDisposeScope();
    }
}
