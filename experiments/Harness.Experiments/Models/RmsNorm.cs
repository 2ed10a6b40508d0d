using Harness.Optimizers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>RMSNorm with a learned gain (ones at init), computed in float32 as HF LLaMA does so half-precision runs stay stable.</summary>
internal sealed class RmsNorm : nn.Module<Tensor, Tensor>, IHasParamRole
{
    private readonly Parameter weight;
    private readonly double eps;

    public RmsNorm(string name, long hidden, double eps) : base(name)
    {
        this.eps = eps;
        weight = new Parameter(ones(hidden));
        register_parameter(nameof(weight), weight);
    }

    public ParamRole Role => ParamRole.Vector;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var x32 = x.to_type(ScalarType.Float32);
        var inv = x32.pow(2).mean([-1], keepdim: true).add_(eps).rsqrt_();
        return (weight * x32.mul(inv).to_type(x.dtype)).MoveToOuterDisposeScope();
    }
}
