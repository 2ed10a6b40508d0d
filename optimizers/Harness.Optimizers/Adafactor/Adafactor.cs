using static TorchSharp.torch;

namespace Harness.Optimizers.Adafactor;

/// <summary>Options of <see cref="Adafactor"/> (the defaults of <c>torch.optim.Adafactor</c>).</summary>
public sealed record AdafactorOptions : OptimizerOptions
{
    /// <summary>torch's lr: the cap of the relative step ρ_t = min(lr, 1/√t) and the weight-decay factor (the paper's 0.01 cap).</summary>
    public AdafactorOptions() => Lr = 1e-2;

    /// <summary>τ in 1 − β̂2_t = t^τ (≤ 0).</summary>
    public double Beta2Decay { get; init; } = -0.8;
    /// <summary>ε1, the floor of the variance estimate's row mean and of √V̂; null = the parameter dtype's machine epsilon (torch's None).</summary>
    public double? Eps1 { get; init; }
    /// <summary>ε2, the floor of RMS(θ) in the parameter-scaled step.</summary>
    public double Eps2 { get; init; } = 1e-3;
    /// <summary>d, the update-clipping threshold on RMS(U).</summary>
    public double D { get; init; } = 1.0;
    public double WeightDecay { get; init; }
    /// <summary>Scale the step by max(ε2, RMS(θ)) (torch, the paper). False: the step is ρ_t alone (HF <c>scale_parameter=False</c>).</summary>
    public bool ScaleParameter { get; init; } = true;
    /// <summary>ρ_t = min(lr, 1/√t) (torch). False: ρ_t = lr, as HF <c>relative_step=False</c> (the GaLore comparison's setting).</summary>
    public bool RelativeStep { get; init; } = true;
    /// <summary>β1 of an optional first moment of the clipped update (HF <c>beta1</c>; torch has none); null = none.</summary>
    public double? Beta1 { get; init; }

    public override IEnumerable<OptionProblem> Validate()
    {
        foreach (var p in base.Validate().Concat(NonNegative(Eps2, "eps2")).Concat(NonNegative(WeightDecay, "weight_decay")))
            yield return p;
        if (!(Beta2Decay <= 0)) yield return new("beta2_decay", $"must be <= 0 (got {Beta2Decay:R})");
        if (Eps1 is { } e && !(e >= 0)) yield return new("eps1", $"must be >= 0 (got {e:R})");
        if (!(D >= 1)) yield return new("d", $"must be >= 1 (got {D:R})");
        if (Beta1 is { } b && !(b >= 0 && b < 1)) yield return new("beta1", $"must be in [0, 1) (got {b:R})");
    }
}

/// <summary>
/// Adafactor: Shazeer &amp; Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost", ICML 2018,
/// arXiv 1804.04235. Reference code: <c>torch.optim.Adafactor</c> (PyTorch ≥ 2.5, <c>torch/optim/_adafactor.py</c>
/// @051d6a0, single-tensor path), whose definition (not the paper's, not HF transformers') this follows.
/// </summary>
/// <remarks>
/// Per parameter θ (last two dims m×n factored when it has ≥ 2 dims), step t from 1, gradient G, lr γ:
/// <code>
/// 1 − β̂2 = t^τ;  ρ = min(γ, 1/√t);  α = max(ε2, RMS(θ))·ρ          (RMS of θ before the decay)
/// θ ← θ·(1 − γ·λ)
/// factored:  R ← lerp(R, mean_n(G²), t^τ);  C ← lerp(C, mean_m(G²), t^τ);  V̂ = R·C / max(mean_m(R), ε1)
/// else:      V ← lerp(V, G², t^τ);  V̂ = V
/// U = G / √max(V̂, ε1²);  θ ← θ − α·U / max(1, RMS(U)/d)
/// </code>
/// ε1 defaults to the parameter dtype's machine epsilon. State: R (·×m×1) and C (·×1×n) per factored
/// parameter, (numel/n + numel/m) × element size (m+n floats for a matrix); numel × element size for a vector;
/// plus numel × element size with <c>beta1</c>.
/// Differences from the paper and HF transformers' Adafactor (which the GaLore paper's comparison ran, from
/// jiaweizzhao/GaLore <c>torchrun_main.py</c> @1317b5f: <c>lr</c> given, <c>eps=(1e-30, 1e-3)</c>,
/// <c>clip_threshold=1.0</c>, <c>decay_rate=-0.8</c>, <c>beta1</c> from the run (0 → None), <c>relative_step=False</c>,
/// <c>scale_parameter=False</c>, <c>warmup_init=False</c>): torch caps ρ at lr instead of 0.01, adds ε1 to the
/// final estimate instead of to G², averages instead of summing, and has no β1. <c>relative_step: false,
/// scale_parameter: false</c> (and <c>beta1</c>) give the GaLore setting's step size lr·clip(U) and its momentum;
/// ε1's placement stays torch's (1e-30 added to G² differs only for near-zero gradients).
/// </remarks>
public sealed class Adafactor(IReadOnlyList<NamedParameter> parameters, AdafactorOptions options)
    : PerParameterOptimizer<AdafactorOptions, Adafactor.State>(parameters, options)
{
    /// <summary>The closed-form state size (the catalog's formula).</summary>
    public static long ExpectedStateBytes(IReadOnlyList<NamedParameter> parameters, AdafactorOptions o) =>
        parameters.Sum(p =>
        {
            var (numel, b) = (p.Value.numel(), p.Value.element_size());
            var second = p.Value.dim() >= 2 ? numel / p.Value.shape[^1] + numel / p.Value.shape[^2] : numel;
            return (second + (o.Beta1 is null ? 0 : numel)) * b;
        });

    public sealed class State(Tensor? row, Tensor? col, Tensor? variance, Tensor? momentum) : ParameterState
    {
        public Tensor? Row { get; } = row;
        public Tensor? Col { get; } = col;
        public Tensor? Variance { get; } = variance;
        public Tensor? Momentum { get; } = momentum;

        public override IEnumerable<(string Name, Tensor Tensor)> Tensors =>
            new (string, Tensor?)[] { ("row_var", Row), ("col_var", Col), ("variance", Variance), ("exp_avg", Momentum) }
                .Where(e => e.Item2 is not null).Select(e => (e.Item1, e.Item2!));
    }

    public override string StateDtype => Parameters.Count == 0 ? "float32" : Parameters[0].Value.dtype.ToString().ToLowerInvariant();

    protected override State CreateState(NamedParameter p)
    {
        var v = p.Value;
        var momentum = Options.Beta1 is null ? null : zeros_like(v);
        if (v.dim() < 2) return new(null, null, zeros_like(v), momentum);
        var rowShape = v.shape.ToArray();
        rowShape[^1] = 1;
        var colShape = v.shape.ToArray();
        colShape[^2] = 1;
        return new(zeros(rowShape, v.dtype, v.device), zeros(colShape, v.dtype, v.device), null, momentum);
    }

    protected override void Update(NamedParameter p, Tensor grad, State s, double lr)
    {
        var param = p.Value;
        var t = (double)s.Step;
        var weight = Math.Pow(t, Options.Beta2Decay); // 1 − β̂2_t
        var rho = Options.RelativeStep ? Math.Min(lr, 1 / Math.Sqrt(t)) : lr;
        var alpha = Options.ScaleParameter ? Math.Max(Options.Eps2, Rms(param)) * rho : rho;
        var eps1 = Options.Eps1 ?? MachineEpsilon(param.dtype);
        if (Options.WeightDecay != 0) param.mul_(1 - lr * Options.WeightDecay);

        Tensor estimate;
        if (s.Variance is { } variance)
        {
            variance.lerp_(grad * grad, weight);
            estimate = variance.clone();
        }
        else
        {
            // Mean of G² along each axis as a squared norm over the length: no G²-sized temporary.
            var (row, col) = (s.Row!, s.Col!);
            row.lerp_(linalg.vector_norm(grad, dims: [-1], keepdim: true).pow_(2).div_(grad.shape[^1]), weight);
            col.lerp_(linalg.vector_norm(grad, dims: [-2], keepdim: true).pow_(2).div_(grad.shape[^2]), weight);
            estimate = row.matmul(col).div_(row.mean([-2], keepdim: true).clamp_(min: eps1));
        }
        var update = estimate.clamp_(min: eps1 * eps1).rsqrt_().mul_(grad);
        var clip = Math.Max(1.0, Rms(update) / Options.D);
        if (s.Momentum is { } m)
        {
            m.lerp_(update.div_(clip), 1 - Options.Beta1!.Value);
            param.add_(m, alpha: -alpha);
        }
        else
        {
            param.add_(update, alpha: -alpha / clip);
        }
    }

    private static double Rms(Tensor t) => t.norm().item<float>() / Math.Sqrt(t.numel());

    private static double MachineEpsilon(ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 => Math.Pow(2, -52),
        ScalarType.BFloat16 => Math.Pow(2, -7),
        ScalarType.Float16 => Math.Pow(2, -10),
        _ => Math.Pow(2, -23),
    };
}
