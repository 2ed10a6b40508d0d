using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>SwiGLU feed-forward: down(silu(gate(x)) * up(x)); fields named as HF's <c>mlp</c>.</summary>
internal sealed class LlamaMlp : nn.Module<Tensor, Tensor>
{
    private readonly Projection gate_proj, up_proj, down_proj;

    public LlamaMlp(LlamaConfig c, Generator init) : base("mlp")
    {
        gate_proj = new Projection(nameof(gate_proj), c.Hidden, c.Ffn, ParamRole.Matrix, c.InitStd, init);
        up_proj = new Projection(nameof(up_proj), c.Hidden, c.Ffn, ParamRole.Matrix, c.InitStd, init);
        down_proj = new Projection(nameof(down_proj), c.Ffn, c.Hidden, ParamRole.Matrix, c.InitStd, init);
        register_module(nameof(gate_proj), gate_proj);
        register_module(nameof(up_proj), up_proj);
        register_module(nameof(down_proj), down_proj);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var hidden = nn.functional.silu(gate_proj.forward(x)) * up_proj.forward(x);
        return down_proj.forward(hidden).MoveToOuterDisposeScope();
    }
}
