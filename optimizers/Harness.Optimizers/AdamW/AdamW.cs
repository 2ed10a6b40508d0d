using static TorchSharp.torch;

namespace Harness.Optimizers.AdamW;

/// <summary>Options of <see cref="AdamW"/> (defaults of <c>torch.optim.AdamW</c>, except weight decay 0).</summary>
public sealed record AdamWOptions : OptimizerOptions
{
    public IReadOnlyList<double> Betas { get; init; } = [0.9, 0.999];
    public double Eps { get; init; } = 1e-8;
    public double WeightDecay { get; init; }

    public override IEnumerable<OptionProblem> Validate() =>
        base.Validate().Concat(ValidateBetas(Betas)).Concat(Positive(Eps, "eps")).Concat(NonNegative(WeightDecay, "weight_decay"));
}

/// <summary>
/// AdamW: Adam with decoupled weight decay. Loshchilov &amp; Hutter, "Decoupled Weight Decay
/// Regularization", ICLR 2019, arXiv 1711.05101. Reference code: PyTorch <c>torch.optim.AdamW</c>
/// (single-tensor path, <c>foreach=False</c>), against which the golden <c>adamw</c> trace was recorded.
/// </summary>
/// <remarks>
/// Per parameter, with step t (from 1), gradient g and learning rate η:
/// <code>
/// p ← p·(1 − η·λ)
/// m ← β1·m + (1 − β1)·g            (computed as m.lerp(g, 1 − β1), as PyTorch does)
/// v ← β2·v + (1 − β2)·g²
/// p ← p − (η / (1 − β1^t)) · m / (√v / √(1 − β2^t) + ε)
/// </code>
/// State: m and v in the parameter's dtype, 2 × numel × element size (8 B/param in fp32).
/// </remarks>
public sealed class AdamW(IReadOnlyList<NamedParameter> parameters, AdamWOptions options)
    : PerParameterOptimizer<AdamWOptions, AdamW.State>(parameters, options)
{
    public sealed class State(Tensor m, Tensor v) : ParameterState
    {
        public Tensor M { get; } = m;
        public Tensor V { get; } = v;
        public override IEnumerable<(string Name, Tensor Tensor)> Tensors => [("exp_avg", M), ("exp_avg_sq", V)];
    }

    public override string StateDtype => Parameters.Count == 0 ? "float32" : Parameters[0].Value.dtype.ToString().ToLowerInvariant();

    protected override State CreateState(NamedParameter p) => new(zeros_like(p.Value), zeros_like(p.Value));

    public override bool SupportsSlabs => true;

    protected override State SliceState(State s, long start, long length) => new(s.M.narrow(0, start, length), s.V.narrow(0, start, length));

    protected override void Update(NamedParameter p, Tensor grad, State s, double lr)
    {
        var (beta1, beta2) = (Options.Betas[0], Options.Betas[1]);
        var param = p.Value;
        if (Options.WeightDecay != 0) param.mul_(1 - lr * Options.WeightDecay);
        s.M.lerp_(grad, 1 - beta1);
        s.V.mul_(beta2).addcmul_(grad, grad, value: 1 - beta2);
        var biasCorrection1 = 1 - Math.Pow(beta1, s.Step);
        var biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(beta2, s.Step));
        var denom = s.V.sqrt().div_(biasCorrection2Sqrt).add_(Options.Eps);
        param.addcdiv_(s.M, denom, value: -lr / biasCorrection1);
    }
}
