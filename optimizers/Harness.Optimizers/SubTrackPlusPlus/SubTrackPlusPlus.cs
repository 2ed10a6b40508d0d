using System.Text.Json.Serialization;
using Harness.Optimizers.Kernels;
using Harness.Optimizers.LowRank;
using static TorchSharp.torch;

namespace Harness.Optimizers.SubTrackPlusPlus;

/// <summary>Options of <see cref="SubTrackPlusPlus"/> (<c>kind: subtrackpp</c>).</summary>
public sealed record SubTrackPlusPlusOptions : LowRankAdamOptions, IReferenceTraceOptions, IMatmulPrecisionOption
{
    /// <summary>The accepted <c>semantics</c> values.</summary>
    public static readonly IReadOnlyList<string> SemanticsValues = ["paper", "code"];

    /// <summary>k: the subspace moves at steps k, 2k, … (0-based).</summary>
    public int UpdateInterval { get; init; } = 50;

    /// <summary>η, the geodesic step size (the released scripts' 10; the rotation angle is η·σ, σ ∝ ‖G‖²).</summary>
    public double StepSize { get; init; } = 10;

    /// <summary>ζ of the norm-growth limiter on the recovery term.</summary>
    public double NormGrowthLimit { get; init; } = 1.01;

    /// <summary><c>paper</c> (default) or <c>code</c>: the released code's behaviour (see the optimizer's remarks).</summary>
    public string Semantics { get; init; } = "paper";

    /// <summary>
    /// <c>auto</c> (default): the full-rank parameters (embedding, head, vectors) through the fused AdamW kernel where
    /// it is attached and the parameters are on CUDA; <c>tensor-ops</c>: never; <c>cuda-fused</c>: required.
    /// </summary>
    public string Implementation { get; init; } = ImplementationChoice.Auto;

    /// <summary>
    /// <c>highest</c> (unset) or <c>tf32</c>: projections, tracking and recovery products on TF32 tensor cores (CUDA only;
    /// not the reference, see optimizers/README.md). Left out of the run id when unset.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public MatmulPrecision? MatmulPrecision { get; init; }

    public OptimizerOptions WithMatmulPrecision(MatmulPrecision? precision) => this with { MatmulPrecision = precision };

    /// <summary>The golden trace was recorded with the released code.</summary>
    public OptimizerOptions ReferenceTraceDefaults => this with { Semantics = "code" };

    public override IEnumerable<OptionProblem> Validate()
    {
        foreach (var p in base.Validate()) yield return p;
        if (UpdateInterval <= 0) yield return new("update_interval", $"must be > 0 (got {UpdateInterval})");
        if (!(StepSize > 0) || !double.IsFinite(StepSize)) yield return new("step_size", $"must be a finite number > 0 (got {StepSize:R})");
        if (!(NormGrowthLimit >= 1) || !double.IsFinite(NormGrowthLimit)) yield return new("norm_growth_limit", $"must be a finite number >= 1 (got {NormGrowthLimit:R})");
        foreach (var p in ImplementationChoice.Validate(Implementation)) yield return p;
        if (!SemanticsValues.Contains(Semantics))
            yield return new("semantics", $"must be one of {string.Join(", ", SemanticsValues)} (got '{Semantics}')");
    }
}

/// <summary>
/// SubTrack++: Grassmannian subspace tracking, projection-aware Adam and recovery scaling. Rajabi, Nonta,
/// Rambhatla, "SubTrack++: Gradient Subspace Tracking for Scalable LLM Training", arXiv 2502.01586.
/// Reference code: criticalml-uw/SubTrack <c>low_rank_torch/adamw.py</c> and
/// <c>low_rank_torch/low_rank_projector.py</c> @94f2b65, against which the golden <c>subtrackpp</c> trace
/// was recorded (with <c>semantics: code</c>).
/// </summary>
/// <remarks>
/// For a Matrix-role parameter with gradient G, step t (from 1), basis S (see <see cref="GrassmannProjector"/>):
/// <code>
/// t−1 = 0: S ← top-r' singular vectors;  (t−1) % k == 0: S moves along the geodesic
/// paper: at a move, C = S_newᵀ·S_old; V ← |C²·(V − M²) + (C·M)²|; M ← C·M      (before the moment update)
/// G̃ = project(G); M ← β1·M + (1−β1)·G̃; V ← β2·V + (1−β2)·G̃²; N = M / (√V + ε)
/// code:  at t % k == 0, C = Sᵀ·S₀; V ← (1−β2)·|C²·(V − M²) + (C·M)²|; M ← C·M  (after N; for later steps)
/// φ = ‖N‖ / (‖G̃‖ + 1e−8) per column (per row of an m×r' projection); Λ = φ ⊙ (G − S·G̃)  [code: G − α·S·G̃]
/// limiter: Λ ← Λ / (max(‖Λ‖/(ℓ + 1e−8), ζ)/ζ), ℓ ← ‖Λ‖ (the first step only records ℓ)
/// W ← W − lr·√(1−β2^t)/(1−β1^t)·(α·S·N + Λ);  W ← W − lr·wd·W
/// </code>
/// <c>semantics: code</c> also keeps the code's quirks: a tall or square matrix is tracked with its row basis,
/// which barely moves; the transport runs one step before each move, against the initial basis S₀, and
/// shrinks V by (1−β2). Other parameters: the same Adam without projection. State bytes per Matrix parameter
/// (s = min(m,n), L = max(m,n), r' = min(r, s), b = element size): (s·r' + 2·r'·L + 1)·b, plus s·r'·b for
/// S₀ with <c>semantics: code</c>; others 2·numel·b. A rank above s is clamped to s, as in the reference.
/// Off by default, not the reference: <c>matmul_precision: tf32</c> (CUDA only; accuracy not measured yet,
/// optimizers/README.md §7). The step is per matrix, so its SVDs (step 0, tracking) are not batched.
/// </remarks>
public sealed class SubTrackPlusPlus(IReadOnlyList<NamedParameter> parameters, SubTrackPlusPlusOptions options)
    : PerParameterOptimizer<SubTrackPlusPlusOptions, LowRankAdamState>(parameters, options), IFusedKernelUser
{
    private const string LimiterKey = "limiter_norm";
    private FusedKernels? _kernels;

    public override string Implementation => _kernels is null ? "tensor-ops" : "tensor-ops; cuda-fused adamw";

    public void AttachKernels(FusedKernels? kernels, string status) =>
        _kernels = ImplementationChoice.Resolve(Options.Implementation, kernels, status, Parameters, "subtrackpp");

    protected override bool FusedEnabled => _kernels is not null;

    protected override bool CanFuse(NamedParameter parameter, Tensor grad, LowRankAdamState state) =>
        _kernels is { } k && LowRankAdam.FusedAccepts(k, parameter.Value, grad, state);

    protected override void StepFused(IReadOnlyList<(NamedParameter Parameter, Tensor Grad, LowRankAdamState State)> items, double learningRate) =>
        LowRankAdam.StepFused(_kernels!, items.Select(x => ((Tensor)x.Parameter.Value, x.Grad, x.State)).ToList(), Options, learningRate);
    private bool Code => Options.Semantics == "code";

    /// <summary>The closed-form state size, independent of the tensors (the catalog's formula).</summary>
    public static long ExpectedStateBytes(IReadOnlyList<NamedParameter> parameters, SubTrackPlusPlusOptions o) =>
        parameters.Sum(p =>
        {
            var b = p.Value.element_size();
            if (p.Role != ParamRole.Matrix || p.Value.dim() != 2) return 2 * p.Value.numel() * b;
            var (s, l) = (Math.Min(p.Value.shape[0], p.Value.shape[1]), Math.Max(p.Value.shape[0], p.Value.shape[1]));
            var r = Math.Min(o.Rank, s);
            return ((o.Semantics == "code" ? 2 : 1) * s * r + 2 * r * l + 1) * b;
        });

    protected override LowRankAdamState CreateState(NamedParameter p) =>
        p.Role == ParamRole.Matrix
            ? new(new GrassmannProjector(p.Value.shape, p.Value.dtype, p.Value.device, Options.Rank, Options.UpdateInterval,
                    Options.Scale, Options.StepSize, Code),
                p.Value, (LimiterKey, zeros([], p.Value.dtype, p.Value.device)))
            : new(null, p.Value);

    protected override void Update(NamedParameter p, Tensor grad, LowRankAdamState s, double lr)
    {
        if (s.Projector is not GrassmannProjector projector)
        {
            LowRankAdam.Step(p.Value, grad, s, Options, lr);
            return;
        }
        using var precision = MatmulPrecisionScope.Enter(Options.MatmulPrecision);
        var (beta1, beta2) = (Options.Betas[0], Options.Betas[1]);
        var step0 = s.Step - 1;
        var previous = !Code && projector.TracksAt(step0) ? projector.Basis.clone() : null;
        var low = projector.Project(grad, step0);
        if (previous is not null) Transport(s, projector, projector.Basis.t().matmul(previous), 1);
        var n = LowRankAdam.Direction(s.M, s.V, low, beta1, beta2, Options.Eps);
        if (Code && s.Step % Options.UpdateInterval == 0)
            Transport(s, projector, projector.Basis.t().matmul(projector.InitialBasis!), 1 - beta2);

        // Λ + α·S·N, accumulated into Λ's buffer: the only m×n tensor of the update.
        var update = projector.AddReconstruct(Recovery(grad, low, n, projector, s), n, projector.Scale);
        LowRankAdam.Apply(p.Value, update, LowRankAdam.StepSize(lr, s.Step, beta1, beta2), lr, Options.WeightDecay);
    }

    /// <summary>
    /// Projection-aware moment transport to the basis change <paramref name="c"/> (r'×r'), in left form:
    /// <c>V ← f·|C²·(V − M²) + (C·M)²|</c>, <c>M ← C·M</c>.
    /// </summary>
    public static void Transport(LowRankAdamState s, GrassmannProjector projector, Tensor c, double factor)
    {
        var m = projector.LeftForm(s.M);
        var v = projector.LeftForm(s.V);
        var cm = c.matmul(m);
        var newV = c.square().matmul(v - m.square()).add_(cm.square()).abs_().mul_(factor);
        m.copy_(cm);
        v.copy_(newV);
    }

    // Recovery scaling of the part of G outside the subspace, with the norm-growth limiter. φ scales whole
    // columns (rows of an m×r' projection), so φ ⊙ (S·G̃) = S·(φ ⊙ G̃): Λ is built in one m×n buffer
    // (φ ⊙ G, then minus S·(φ ⊙ G̃) by addmm) instead of four. The limiter stays on the device: no host sync.
    private Tensor Recovery(Tensor grad, Tensor low, Tensor n, GrassmannProjector projector, LowRankAdamState s)
    {
        var dim = low.shape[0] < low.shape[1] ? 0 : 1;
        var phi = n.norm(dim).div_(low.norm(dim).add_(1e-8));
        if (dim == 1) phi = phi.unsqueeze(1);
        var lambda = projector.AddReconstruct(grad.mul(phi), low.mul(phi), Code ? -projector.Scale : -1);
        var previous = s.Extra(LimiterKey);
        var norm = lambda.norm();
        if (s.Step == 1)
        {
            previous.copy_(norm);
            return lambda;
        }
        var limiter = Limiter(norm, previous, Options.NormGrowthLimit);
        previous.copy_(norm.div_(limiter));
        return lambda.div_(limiter);
    }

    /// <summary>
    /// The norm-growth limiter <c>max(‖Λ‖/(ℓ + 1e−8), ζ)/ζ</c> as a 0-d device tensor (no host round trip).
    /// </summary>
    public static Tensor Limiter(Tensor norm, Tensor previous, double zeta)
    {
        ArgumentNullException.ThrowIfNull(norm);
        ArgumentNullException.ThrowIfNull(previous);
        return norm.div(previous.add(1e-8)).clamp_min_(zeta).div_(zeta);
    }
}
