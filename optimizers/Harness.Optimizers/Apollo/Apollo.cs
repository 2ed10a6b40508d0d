using Harness.Optimizers.LowRank;
using static TorchSharp.torch;

namespace Harness.Optimizers.Apollo;

/// <summary>Options of <see cref="Apollo"/>; <c>variant: mini</c> gives APOLLO-Mini.</summary>
public sealed record ApolloOptions : OptimizerOptions, IRunSeeded
{
    /// <summary>The reference scripts' lr (1e-2 for APOLLO and APOLLO-Mini alike).</summary>
    public ApolloOptions() => Lr = 1e-2;

    public IReadOnlyList<double> Betas { get; init; } = [0.9, 0.999];
    /// <summary>Added to the uncorrected √v (the reference's transformers-style Adam, default 1e-6).</summary>
    public double Eps { get; init; } = 1e-6;
    /// <summary>Decoupled, applied after the update as <c>p ← p − lr·wd·p</c>.</summary>
    public double WeightDecay { get; init; }
    public ApolloVariant Variant { get; init; } = ApolloVariant.Apollo;
    /// <summary>Rank r of the random projection; null = the variant's (32, or 1 for mini). Not clamped: a Gaussian r×n is fine for r &gt; n.</summary>
    public int? Rank { get; init; }
    /// <summary>null = the variant's (channel, or tensor for mini).</summary>
    public ApolloScaleType? ScaleType { get; init; }
    /// <summary>α: the scaled gradient is multiplied by √α; null = the variant's (1, or 128 for mini).</summary>
    public double? Scale { get; init; }
    /// <summary>T: a new random projection at steps 0, T, 2T, … (0-based), from the next seed.</summary>
    public int UpdateProjGap { get; init; } = 200;
    /// <summary>Multiply by √α before the norm-growth limiter instead of after (the reference's <c>--scale_front</c>).</summary>
    public bool ScaleFront { get; init; }
    /// <summary>Fira's norm-growth limiter (growth ≤ 1.01× per step); false = the reference's <c>disable_nl</c>.</summary>
    public bool NormGrowthLimiter { get; init; } = true;
    /// <summary>Parameter i (0-based, in the optimizer's list) draws its first projection from seed + i + 1, as the reference numbers them.</summary>
    public int Seed { get; init; }

    internal int EffectiveRank => Rank ?? (Variant == ApolloVariant.Mini ? 1 : 32);
    internal ApolloScaleType EffectiveScaleType => ScaleType ?? (Variant == ApolloVariant.Mini ? ApolloScaleType.Tensor : ApolloScaleType.Channel);
    internal double EffectiveScale => Scale ?? (Variant == ApolloVariant.Mini ? 128 : 1);

    public OptimizerOptions WithRunSeed(int runSeed) => this with { Seed = Seed + runSeed * 65536 };

    public override IEnumerable<OptionProblem> Validate()
    {
        foreach (var p in base.Validate().Concat(ValidateBetas(Betas)).Concat(Positive(Eps, "eps")).Concat(NonNegative(WeightDecay, "weight_decay")))
            yield return p;
        if (Rank is < 1) yield return new("rank", $"must be >= 1 (got {Rank})");
        if (Scale is { } s && !(s > 0 && double.IsFinite(s))) yield return new("scale", $"must be a finite number > 0 (got {s:R})");
        if (UpdateProjGap < 1) yield return new("update_proj_gap", $"must be >= 1 (got {UpdateProjGap})");
        if (Seed < 0) yield return new("seed", $"must be >= 0 (got {Seed})");
    }
}

/// <summary>
/// APOLLO and APOLLO-Mini: Zhu, Zhang, Cong, Liu, Park, Chandra, Long, Pan, Wang, Lee, "APOLLO: SGD-like Memory,
/// AdamW-level Performance", MLSys 2025, arXiv 2412.05270. Reference code: zhuhanqing/APOLLO
/// <c>apollo_torch/apollo.py</c> and <c>apollo_torch/random_projector.py</c> @76b3472 (<c>proj: random</c>,
/// <c>proj_type: std</c>).
/// </summary>
/// <remarks>
/// Each 2-D Matrix-role W (m×n) with gradient G, 0-based step k = t − 1, rank r:
/// <code>
/// if k % T == 0: P ~ N(0, 1/r) from a CPU generator seeded with s; s ← next(s)  (P: r×n if m ≥ n, else m×r)
/// R = G·Pᵀ (m ≥ n) or Pᵀ·G                      (r columns or r rows)
/// M ← β1·M + (1−β1)·R;  V ← β2·V + (1−β2)·R²;  N = M/(√V + ε)
/// S = ‖N‖/(‖R‖ + 1e-8) per row (m ≥ n) or per column (channel), or over the whole matrix (tensor)
/// G̃ = G·S;  [scale_front: G̃ ← √α·G̃]
/// limiter: ℓ = max(‖G̃‖/(‖G̃_prev‖ + 1e-8), 1.01)/1.01;  G̃ ← G̃/ℓ;  ‖G̃_prev‖ ← ‖G̃‖   (not at the first step)
/// [else: G̃ ← √α·G̃]
/// W ← W − η·√(1−β2^t)/(1−β1^t)·G̃;  W ← W − η·λ·W
/// </code>
/// next(s) is the last of 15 <c>randint(0, 2⁶³−1)</c> draws of a generator seeded with s, as the reference's
/// <c>next_seed</c>; the first seed of the i-th parameter is seed + i + 1. Every other parameter gets the same
/// Adam without projection and scaling (<see cref="LowRankAdam"/>). State per matrix, b = element size:
/// (r·min(m,n) + 2·r·max(m,n))·b (P, M, V) plus the projection seed (8 B) and the limiter's last norm (4 B);
/// 2·numel·b for the rest. APOLLO-Mini (r = 1): about 3·max(m, n) floats per matrix, SGD-like.
/// Differences from the reference, and why: P is drawn on the CPU (bit-identical to the reference on CPU; the
/// reference draws on the parameter's device, so CUDA runs differ in which random matrix they use, not in
/// distribution); only <c>proj_type: std</c> (the reference's other types break the channel broadcast); no SVD
/// projector (<c>proj: svd</c> is GaLore's, already <c>kind: galore</c>).
/// </remarks>
public sealed class Apollo(IReadOnlyList<NamedParameter> parameters, ApolloOptions options)
    : PerParameterOptimizer<ApolloOptions, Apollo.State>(parameters, options)
{
    /// <summary>Whether a parameter is projected and scaled (2-D, Matrix role).</summary>
    public static bool IsProjected(NamedParameter p) => p.Role == ParamRole.Matrix && p.Value.dim() == 2;

    /// <summary>The closed-form state size (the catalog's formula).</summary>
    public static long ExpectedStateBytes(IReadOnlyList<NamedParameter> parameters, ApolloOptions o) =>
        parameters.Sum(p =>
        {
            var b = p.Value.element_size();
            if (!IsProjected(p)) return 2 * p.Value.numel() * b;
            var (lo, hi) = (Math.Min(p.Value.shape[0], p.Value.shape[1]), Math.Max(p.Value.shape[0], p.Value.shape[1]));
            long r = o.EffectiveRank;
            return (r * lo + 2 * r * hi) * b + sizeof(long) + sizeof(float);
        });

    public sealed class State(Tensor m, Tensor v, Tensor? projection, Tensor? seed, Tensor? lastNorm) : ParameterState
    {
        public Tensor M { get; } = m;
        public Tensor V { get; } = v;
        /// <summary>P (r×n or m×r) for a projected matrix.</summary>
        public Tensor? Projection { get; } = projection;
        /// <summary>The seed of the next projection (int64 scalar).</summary>
        public Tensor? Seed { get; } = seed;
        /// <summary>‖G̃‖ of the previous step, −1 before the first (float32 scalar).</summary>
        public Tensor? LastNorm { get; } = lastNorm;

        public override IEnumerable<(string Name, Tensor Tensor)> Tensors =>
            new (string, Tensor?)[] { ("exp_avg", M), ("exp_avg_sq", V), ("projection", Projection), ("proj_seed", Seed), ("scaled_grad_norm", LastNorm) }
                .Where(e => e.Item2 is not null).Select(e => (e.Item1, e.Item2!));
    }

    public override string StateDtype => Parameters.Count == 0 ? "float32" : Parameters[0].Value.dtype.ToString().ToLowerInvariant();

    protected override State CreateState(NamedParameter p)
    {
        var w = p.Value;
        if (!IsProjected(p)) return new(zeros_like(w), zeros_like(w), null, null, null);
        var (m, n, r) = (w.shape[0], w.shape[1], (long)Options.EffectiveRank);
        long[] low = m >= n ? [m, r] : [r, n];
        long[] proj = m >= n ? [r, n] : [m, r];
        var index = Parameters.ToList().FindIndex(q => q.Name == p.Name);
        return new(zeros(low, w.dtype, w.device), zeros(low, w.dtype, w.device), zeros(proj, w.dtype, w.device),
            tensor((long)Options.Seed + index + 1), tensor(-1f));
    }

    protected override void Update(NamedParameter p, Tensor grad, State s, double lr)
    {
        var (beta1, beta2) = (Options.Betas[0], Options.Betas[1]);
        var stepSize = LowRankAdam.StepSize(lr, s.Step, beta1, beta2);
        if (s.Projection is not { } proj)
        {
            LowRankAdam.Apply(p.Value, LowRankAdam.Direction(s.M, s.V, grad, beta1, beta2, Options.Eps), stepSize, lr, Options.WeightDecay);
            return;
        }
        var wide = grad.shape[0] < grad.shape[1]; // m < n: left projection, channels are columns
        if ((s.Step - 1) % Options.UpdateProjGap == 0) Redraw(proj, s.Seed!);
        var r = wide ? proj.t().matmul(grad) : grad.matmul(proj.t());
        var normalized = LowRankAdam.Direction(s.M, s.V, r, beta1, beta2, Options.Eps);
        var factor = Options.EffectiveScaleType == ApolloScaleType.Channel
            ? ChannelNorm(normalized, wide).div_(ChannelNorm(r, wide).add_(1e-8))
            : normalized.norm().div_(r.norm().add_(1e-8));
        var scaled = grad * factor;
        var sqrtScale = Math.Sqrt(Options.EffectiveScale);
        if (Options.ScaleFront) scaled.mul_(sqrtScale);
        if (Options.NormGrowthLimiter) Limit(scaled, s.LastNorm!);
        if (!Options.ScaleFront) scaled.mul_(sqrtScale);
        LowRankAdam.Apply(p.Value, scaled, stepSize, lr, Options.WeightDecay);
    }

    /// <summary>Per-channel norms shaped to broadcast against G: [1, n] over columns (wide) or [m, 1] over rows.</summary>
    private static Tensor ChannelNorm(Tensor x, bool wide) => linalg.vector_norm(x, dims: [wide ? 0 : 1], keepdim: true);

    /// <summary>Fira's norm-growth limiter, in place; the reference keeps the first norm without limiting.</summary>
    private static void Limit(Tensor scaled, Tensor lastNorm)
    {
        var norm = scaled.norm();
        var last = lastNorm.item<float>();
        if (last >= 0)
        {
            var limiter = norm.div(last + 1e-8).clamp_min_(1.01).div_(1.01);
            scaled.div_(limiter);
            norm.div_(limiter);
        }
        lastNorm.copy_(norm);
    }

    /// <summary>P ← randn(seed)/√r on a CPU generator, then seed ← next(seed) (the reference's <c>next_seed</c>, 15 draws).</summary>
    private void Redraw(Tensor proj, Tensor seed)
    {
        var current = seed.item<long>();
        var r = Options.EffectiveRank;
        var drawn = randn(proj.shape, dtype: ScalarType.Float32, generator: new TorchSharp.torch.Generator((ulong)current)).div_(Math.Sqrt(r));
        proj.copy_(drawn);
        var advance = randint(0, long.MaxValue, [15], dtype: ScalarType.Int64, generator: new TorchSharp.torch.Generator((ulong)current));
        seed.fill_(advance[14].item<long>());
    }
}
