using static TorchSharp.torch;

namespace Harness.Optimizers.Lion;

/// <summary>Options of <see cref="Lion"/> (the paper's defaults: β1 0.9, β2 0.99).</summary>
public sealed record LionOptions : OptimizerOptions
{
    public LionOptions() => Lr = 1e-4;

    public IReadOnlyList<double> Betas { get; init; } = [0.9, 0.99];
    public double WeightDecay { get; init; }

    public override IEnumerable<OptionProblem> Validate() =>
        base.Validate().Concat(ValidateBetas(Betas)).Concat(NonNegative(WeightDecay, "weight_decay"));
}

/// <summary>
/// Lion (EvoLved Sign Momentum). Chen et al., "Symbolic Discovery of Optimization Algorithms",
/// NeurIPS 2023, arXiv 2302.06675. Reference code: google/automl, <c>lion/lion_pytorch.py</c>.
/// The worked example of <c>optimizers/README.md</c>: one file, one catalog line, one YAML entry.
/// </summary>
/// <remarks>
/// Per parameter, with gradient g and learning rate η:
/// <code>
/// p ← p·(1 − η·λ)
/// c ← β1·m + (1 − β1)·g
/// p ← p − η·sign(c)
/// m ← β2·m + (1 − β2)·g
/// </code>
/// State: one momentum tensor in the parameter's dtype (4 B/param in fp32, half of AdamW).
/// Lion wants a learning rate 3–10× smaller than AdamW's and a weight decay 3–10× larger.
/// </remarks>
public sealed class Lion(IReadOnlyList<NamedParameter> parameters, LionOptions options)
    : ElementwiseOptimizer<LionOptions, Lion.State>(parameters, options)
{
    public sealed class State(Tensor m) : ParameterState
    {
        public Tensor M { get; } = m;
        public override IEnumerable<(string Name, Tensor Tensor)> Tensors => [("exp_avg", M)];
    }

    protected override State CreateState(NamedParameter p) => new(zeros_like(p.Value));

    protected override State SliceState(State s, long start, long length) => new(s.M.narrow(0, start, length));

    protected override void Update(NamedParameter p, Tensor grad, State s, double lr)
    {
        var (beta1, beta2) = (Options.Betas[0], Options.Betas[1]);
        var param = p.Value;
        if (Options.WeightDecay != 0) param.mul_(1 - lr * Options.WeightDecay);
        var direction = s.M.mul(beta1).add_(grad, alpha: 1 - beta1).sign_();
        param.add_(direction, alpha: -lr);
        s.M.mul_(beta2).add_(grad, alpha: 1 - beta2);
    }
}
