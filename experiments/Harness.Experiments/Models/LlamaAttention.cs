using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>
/// Causal self-attention with RoPE on q and k, grouped-query when kv heads &lt; heads (each k/v head serves
/// heads / kv_heads consecutive query heads, as HF's <c>repeat_kv</c>); fields named as HF's <c>self_attn</c>.
/// </summary>
internal sealed class LlamaAttention : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    private readonly Projection q_proj, k_proj, v_proj, o_proj;
    private readonly int heads, kvHeads, headDim;

    public LlamaAttention(LlamaConfig c, Generator init) : base("self_attn")
    {
        heads = c.Heads;
        kvHeads = c.KvHeads;
        headDim = c.HeadDim;
        q_proj = new Projection(nameof(q_proj), c.Hidden, c.Hidden, ParamRole.Matrix, c.InitStd, init);
        k_proj = new Projection(nameof(k_proj), c.Hidden, c.KvWidth, ParamRole.Matrix, c.InitStd, init);
        v_proj = new Projection(nameof(v_proj), c.Hidden, c.KvWidth, ParamRole.Matrix, c.InitStd, init);
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
        var q = RotaryEmbedding.Apply(SplitHeads(q_proj.forward(x), b, t, heads), cos, sin);
        var k = Shared(RotaryEmbedding.Apply(SplitHeads(k_proj.forward(x), b, t, kvHeads), cos, sin));
        var v = Shared(SplitHeads(v_proj.forward(x), b, t, kvHeads));
        var y = nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true);
        var merged = y.transpose(1, 2).reshape(b, t, heads * headDim);
        return o_proj.forward(merged).MoveToOuterDisposeScope();
    }

    private Tensor SplitHeads(Tensor x, long b, long t, int count) => x.view(b, t, count, headDim).transpose(1, 2);

    /// <summary>[b, kv, t, d] -> [b, heads, t, d], kv head j repeated for query heads j·g … j·g + g − 1.</summary>
    private Tensor Shared(Tensor kv) => kvHeads == heads ? kv : kv.repeat_interleave(heads / kvHeads, dim: 1);
}
