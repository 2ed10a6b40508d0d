using Harness.Optimizers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>
/// A bias-free linear layer (<c>weight</c> of shape [out, in]). Written here instead of using
/// <c>nn.Linear</c> so the weight is drawn once from the run's generator: <c>nn.Linear</c> would first
/// initialise it from the global RNG, which parallel tests share.
/// </summary>
internal sealed class Projection : nn.Module<Tensor, Tensor>, IHasParamRole, IComputeDType
{
    private readonly Parameter weight;

    public Projection(string name, long inFeatures, long outFeatures, ParamRole role, double std, Generator init) : base(name)
    {
        Role = role;
        using (no_grad())
            weight = new Parameter(empty(outFeatures, inFeatures).normal_(0, std, init));
        register_parameter(nameof(weight), weight);
    }

    public ParamRole Role { get; }

    private (ILinearRoute Route, string WeightName)? route;

    /// <summary>Routes the training forward through <paramref name="to"/> (null: plain <c>F.linear</c>); evaluation never is.</summary>
    public void RouteThrough(ILinearRoute? to, string weightName) => route = to is null ? null : (to, weightName);

    /// <summary>
    /// <c>training.dtype: mixed</c>: the matmul runs in this dtype (bf16) on a cast of the input and of the weight, and
    /// returns it, as autocast does for <c>linear</c>; the weight's gradient flows back through the cast to the fp32
    /// weight. A routed (FORGE) layer gets the cast input and the fp32 weight, and casts inside its function. Null: the
    /// weight's dtype.
    /// </summary>
    public ScalarType? ComputeDType { get; set; }

    public override Tensor forward(Tensor input) =>
        MixedPrecision.Linear(input, weight, null, ComputeDType, training ? route?.Route : null, route?.WeightName ?? "");
}
