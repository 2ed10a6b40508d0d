using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>GPT-2's MLP: c_fc (d → ffn), GELU (tanh approximation, as GPT-2 was trained), c_proj (ffn → d), both with bias.</summary>
internal sealed class GeluMlp : nn.Module<Tensor, Tensor>
{
    private readonly Dense c_fc, c_proj;

    public GeluMlp(int hidden, int ffn, double std, double residualStd, Generator init) : base("mlp")
    {
        c_fc = new Dense(nameof(c_fc), hidden, ffn, ParamRole.Matrix, std, init);
        c_proj = new Dense(nameof(c_proj), ffn, hidden, ParamRole.Matrix, residualStd, init);
        register_module(nameof(c_fc), c_fc);
        register_module(nameof(c_proj), c_proj);
    }

    public override Tensor forward(Tensor x)
    {
        using var h = c_fc.forward(x);
        using var a = nn.functional.gelu(h, approximate: TorchSharp.Modules.GELU.Approximate.tanh);
        return c_proj.forward(a);
    }
}
