using Harness.Optimizers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>LayerNorm over the last dimension with a learned gain (ones) and bias (zeros), both vectors.</summary>
internal sealed class LayerNorm : nn.Module<Tensor, Tensor>, IHasParamRole
{
    private readonly Parameter weight, bias;
    private readonly long width;
    private readonly double eps;

    public LayerNorm(string name, long width, double eps = 1e-5) : base(name)
    {
        this.width = width;
        this.eps = eps;
        weight = new Parameter(ones(width));
        bias = new Parameter(zeros(width));
        register_parameter(nameof(weight), weight);
        register_parameter(nameof(bias), bias);
    }

    public ParamRole Role => ParamRole.Vector;

    public override Tensor forward(Tensor x) => nn.functional.layer_norm(x, [width], weight, bias, eps);
}
