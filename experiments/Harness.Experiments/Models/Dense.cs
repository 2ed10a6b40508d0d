using Harness.Optimizers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>
/// A linear layer with bias: <c>weight</c> [out, in] (normal(0, std) from the run's generator) and
/// <c>bias</c> [out] (zeros). The weight takes the given role, the bias is a <see cref="ParamRole.Vector"/>.
/// </summary>
internal sealed class Dense : nn.Module<Tensor, Tensor>, IHasParamRoles
{
    private readonly Parameter weight, bias;
    private readonly ParamRole weightRole;

    public Dense(string name, long inFeatures, long outFeatures, ParamRole weightRole, double std, Generator init) : base(name)
    {
        this.weightRole = weightRole;
        using (no_grad())
            weight = new Parameter(empty(outFeatures, inFeatures).normal_(0, std, init));
        bias = new Parameter(zeros(outFeatures));
        register_parameter(nameof(weight), weight);
        register_parameter(nameof(bias), bias);
    }

    public ParamRole RoleOf(string localName) => localName == nameof(weight) ? weightRole : ParamRole.Vector;

    public override Tensor forward(Tensor input) => nn.functional.linear(input, weight, bias);
}
