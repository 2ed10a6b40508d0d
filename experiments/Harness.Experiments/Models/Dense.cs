using Harness.Optimizers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>
/// A linear layer with bias: <c>weight</c> [out, in] (normal(0, std) from the run's generator) and
/// <c>bias</c> [out] (zeros). The weight takes the given role, the bias is a <see cref="ParamRole.Vector"/>.
/// </summary>
internal sealed class Dense : nn.Module<Tensor, Tensor>, IHasParamRoles, IComputeDType
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

    /// <summary><c>training.dtype: mixed</c>: the bf16 matmul of <see cref="MixedPrecision.Linear"/> (null: the weight's dtype).</summary>
    public ScalarType? ComputeDType { get; set; }

    private (ILinearRoute Route, string WeightName)? route;

    /// <summary>
    /// Routes the training forward's <c>input · weightᵀ</c> through <paramref name="to"/> (null: plain <c>F.linear</c>); the
    /// bias is added after the route, so the fused-backward function sees a bias-free linear. Evaluation never is routed.
    /// </summary>
    public void RouteThrough(ILinearRoute? to, string weightName) => route = to is null ? null : (to, weightName);

    public override Tensor forward(Tensor input) =>
        MixedPrecision.Linear(input, weight, bias, ComputeDType, training ? route?.Route : null, route?.WeightName ?? "");
}
