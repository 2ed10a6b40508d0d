using Harness.Optimizers;
using Harness.Optimizers.Quantization;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>
/// A bias-free linear layer (<c>weight</c> of shape [out, in]). Written here instead of using
/// <c>nn.Linear</c> so the weight is drawn once from the run's generator: <c>nn.Linear</c> would first
/// initialise it from the global RNG, which parallel tests share.
/// </summary>
internal sealed class Projection : nn.Module<Tensor, Tensor>, IHasParamRole, IQuantizedWeightOwner, IComputeDType
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

    /// <summary>The weight's quantized storage once <see cref="StoreQuantized"/> ran; null while it is a dense Parameter.</summary>
    public QuantizedWeight? Quantized { get; private set; }

    /// <summary>
    /// Moves the weight into quantized storage (rounded to nearest, as Q-GaLore's <c>QGaLoreLinear</c> does) and turns
    /// the registered Parameter into a gradient carrier: same shape and dtype, its data one broadcast zero (stride 0), so
    /// <c>carrier + dequantize(codes)</c> in the forward sends the dense weight gradient to the carrier's <c>.grad</c>.
    /// Call it after the model reached its device and dtype (a move would make the carrier dense again).
    /// </summary>
    public void StoreQuantized(QuantizedWeightFormat format)
    {
        if (Quantized is not null) throw new InvalidOperationException("this projection's weight is stored quantized already");
        using var noGrad = no_grad();
        Quantized = QuantizedWeight.FromDense(weight, format);
        using var one = zeros(1, weight.dtype, weight.device);
        weight.set_(one.expand(weight.shape));
    }

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

    public override Tensor forward(Tensor input)
    {
        if (Quantized is null) return Forward(input, weight);
        using var scope = NewDisposeScope();
        // The dequantized weight lives until the backward (linear saves it), as an activation does; with
        // activation_checkpointing only one block's at a time (the reference recomputes it in its backward instead).
        return Forward(input, weight.add(Quantized.Dequantize(weight.dtype))).MoveToOuterDisposeScope();
    }

    private Tensor Forward(Tensor input, Tensor w) =>
        MixedPrecision.Linear(input, w, null, ComputeDType, training ? route?.Route : null, route?.WeightName ?? "");

    protected override void Dispose(bool disposing)
    {
        if (disposing) Quantized?.Dispose();
        base.Dispose(disposing);
    }
}
