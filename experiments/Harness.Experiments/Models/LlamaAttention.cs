using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>Multi-head causal self-attention with RoPE on q and k; fields named as HF's <c>self_attn</c>.</summary>
internal sealed class LlamaAttention : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    private readonly Projection q_proj, k_proj, v_proj, o_proj;
    private readonly int heads, headDim;

    public LlamaAttention(LlamaConfig c, Generator init) : base("self_attn")
    {
        heads = c.Heads;
        headDim = c.HeadDim;
        q_proj = new Projection(nameof(q_proj), c.Hidden, c.Hidden, ParamRole.Matrix, c.InitStd, init);
        k_proj = new Projection(nameof(k_proj), c.Hidden, c.Hidden, ParamRole.Matrix, c.InitStd, init);
        v_proj = new Projection(nameof(v_proj), c.Hidden, c.Hidden, ParamRole.Matrix, c.InitStd, init);
        o_proj = new Projection(nameof(o_proj), c.Hidden, c.Hidden, ParamRole.Matrix, c.InitStd, init);
        register_module(nameof(q_proj), q_proj);
        register_module(nameof(k_proj), k_proj);
        register_module(nameof(v_proj), v_proj);
        register_module(nameof(o_proj), o_proj);
    }

    /// <summary>x [batch, seq, hidden] with rotary tables [seq, headDim] -> [batch, seq, hidden].</summary>
    public override Tensor forward(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        var q = RotaryEmbedding.Apply(SplitHeads(q_proj.forward(x), b, t), cos, sin);
        var k = RotaryEmbedding.Apply(SplitHeads(k_proj.forward(x), b, t), cos, sin);
        var v = SplitHeads(v_proj.forward(x), b, t);
        var y = nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true);
        var merged = y.transpose(1, 2).reshape(b, t, heads * headDim);
        return o_proj.forward(merged).MoveToOuterDisposeScope();
    }

    private Tensor SplitHeads(Tensor x, long b, long t) => x.view(b, t, heads, headDim).transpose(1, 2);
}
