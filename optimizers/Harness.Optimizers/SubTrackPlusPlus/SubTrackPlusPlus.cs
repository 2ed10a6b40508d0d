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
    /// <c>tensor-ops</c>: the per-parameter reference; <c>batched</c>: the Matrix parameters of one shape stacked (one
    /// batched SVD / tracking move, one bmm projection, the moments in one pass, limiter on the device); <c>auto</c>
    /// (default) = batched, with the full-rank parameters (embedding, head, vectors) through the fused AdamW kernel where
    /// it is attached and the parameters are on CUDA; <c>cuda-fused</c> = the same, the kernel required.
    /// See <see cref="StepImplementation"/>.
    /// </summary>
    public string Implementation { get; init; } = StepImplementation.Auto;

    /// <summary>
    /// <c>highest</c> (unset) or <c>tf32</c>: projections, tracking and recovery products on TF32 tensor cores (CUDA only;
    /// not the reference, see optimizers/README.md). Left out of the run id when unset.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public MatmulPrecision? MatmulPrecision { get; init; }

    public OptimizerOptions WithMatmulPrecision(MatmulPrecision? precision) => this with { MatmulPrecision = precision };

    /// <summary>The golden trace was recorded with the released code; it is checked against the per-parameter reference path.</summary>
    public OptimizerOptions ReferenceTraceDefaults => this with { Semantics = "code", Implementation = StepImplementation.TensorOps };

    public override IEnumerable<OptionProblem> Validate()
    {
        foreach (var p in base.Validate()) yield return p;
        if (UpdateInterval <= 0) yield return new("update_interval", $"must be > 0 (got {UpdateInterval})");
        if (!(StepSize > 0) || !double.IsFinite(StepSize)) yield return new("step_size", $"must be a finite number > 0 (got {StepSize:R})");
        if (!(NormGrowthLimit >= 1) || !double.IsFinite(NormGrowthLimit)) yield return new("norm_growth_limit", $"must be a finite number >= 1 (got {NormGrowthLimit:R})");
        foreach (var p in StepImplementation.Validate(Implementation, fusedKernel: true)) yield return p;
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
/// optimizers/README.md §7).
/// <c>implementation: tensor-ops</c> is this algebra per matrix (the reference path; the golden trace binds it).
/// <c>batched</c> (what <c>auto</c> picks) steps the matrices of one (shape, dtype) together (<see cref="SubTrackGroup"/>):
/// their S, S₀, moments and limiter norms live in stacked buffers (the state entries are views), step 0 is one batched
/// SVD, a move one batched tracking step, the projection and transports bmm, the moments one pass, φ, ‖Λ‖ and the
/// limiter B-vectors; Λ is built in the stacked gradients, and a group goes in chunks whose stacked gradients stay
/// within <see cref="DefaultStackBytes"/>. Equal to tensor-ops within a few float32 ulps (different reduction and bmm
/// orders), not bit for bit. On CUDA a batched SVD may give other, equally exact, signs of the singular vectors; the
/// run does not depend on them in exact arithmetic (S·N, S·Sᵀ, the moves and transports are invariant to a column's sign).
/// No step of either path reads a value back to the host.
/// </remarks>
public sealed class SubTrackPlusPlus(IReadOnlyList<NamedParameter> parameters, SubTrackPlusPlusOptions options, long stackBytes = SubTrackPlusPlus.DefaultStackBytes)
    : PerParameterOptimizer<SubTrackPlusPlusOptions, LowRankAdamState>(parameters, options), IFusedKernelUser
{
    /// <summary>
    /// The batched step's bound on a shape group's stacked gradients (B·m·n·4 bytes, the one m×n-sized transient per
    /// chunk; Λ is built in it): 128 MiB, e.g. 8 of LLaMA-1B's 2048×2048 matrices or 3 of its 5461×2048 ones per chunk.
    /// A tracking step adds transients of at most that size: its residual G − S·A and (paper semantics) I − S·Sᵀ.
    /// </summary>
    public const long DefaultStackBytes = 128L << 20;

    private const string LimiterKey = "limiter_norm";
    private readonly long _stackBytes = stackBytes > 0 ? stackBytes : throw new ArgumentOutOfRangeException(nameof(stackBytes), stackBytes, "must be > 0");
    private FusedKernels? _kernels;

    // Batched: the Matrix parameters of one (shape, dtype) share stacked storage (state entries are views).
    private readonly Dictionary<(long M, long N, ScalarType Dtype), SubTrackGroup> _groups = [];

    private bool Batched => StepImplementation.IsBatched(Options.Implementation);

    public override string Implementation => !Batched ? "tensor-ops" : _kernels is null ? "batched" : "batched; cuda-fused adamw";

    /// <summary>Only <c>auto</c> and <c>cuda-fused</c> take the kernels (for the full-rank parameters).</summary>
    public void AttachKernels(FusedKernels? kernels, string status) =>
        _kernels = StepImplementation.ResolveKernels(Options.Implementation, kernels, status, Parameters, "subtrackpp");

    private bool Code => Options.Semantics == "code";

    private static (long, long, ScalarType) GroupKey(NamedParameter p) => (p.Value.shape[0], p.Value.shape[1], p.Value.dtype);

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

    protected override LowRankAdamState CreateState(NamedParameter p)
    {
        if (p.Role != ParamRole.Matrix) return new(null, p.Value);
        if (!Batched || p.Value.dim() != 2)
            return new(new GrassmannProjector(p.Value.shape, p.Value.dtype, p.Value.device, Options.Rank, Options.UpdateInterval,
                    Options.Scale, Options.StepSize, Code),
                p.Value, (LimiterKey, zeros([], p.Value.dtype, p.Value.device)));
        var key = GroupKey(p);
        if (!_groups.TryGetValue(key, out var group))
            _groups[key] = group = new SubTrackGroup(
                Parameters.Where(q => q.Role == ParamRole.Matrix && q.Value.dim() == 2 && GroupKey(q) == key).Select(q => q.Name).ToArray(), p.Value, Options);
        return group.State(Array.IndexOf(group.Members, p.Name), p, Options, LimiterKey);
    }

    /// <summary>
    /// Batched: every shape group whose members all have gradients at the same step goes through
    /// <see cref="SubTrackGroup.Step"/>; everything else (vectors, embeddings, a partial group) steps one by one,
    /// the full-rank parameters through the fused AdamW kernel where it is attached.
    /// </summary>
    public override void Step(double learningRate)
    {
        if (!Batched)
        {
            base.Step(learningRate);
            return;
        }
        ThrowIfDisposed();
        using var noGrad = no_grad();
        var grads = new List<Tensor>();
        try
        {
            var grouped = new List<(NamedParameter P, Tensor G, LowRankAdamState S)>();
            var fused = new List<(Tensor P, Tensor G, LowRankAdamState S)>();
            foreach (var p in Parameters)
            {
                var grad = p.Value.grad;
                if (grad is null) continue;
                grads.Add(grad);
                var s = StateFor(p);
                if (s.Projector is not null && p.Value.dim() == 2) grouped.Add((p, grad, s));
                else if (_kernels is { } k && LowRankAdam.FusedAccepts(k, p.Value, grad, s)) fused.Add((p.Value, grad, s));
                else StepParameter(p, grad, learningRate);
            }
            if (fused.Count > 0)
            {
                foreach (var x in fused) x.S.Step++;
                LowRankAdam.StepFused(_kernels!, fused, Options, learningRate);
            }
            foreach (var items in grouped.GroupBy(x => GroupKey(x.P)).Select(g => g.ToList()))
            {
                var group = _groups[GroupKey(items[0].P)];
                if (items.Count == group.Members.Length && items.All(x => x.S.Step == items[0].S.Step) && items.Select(x => x.P.Name).SequenceEqual(group.Members))
                {
                    using var precision = MatmulPrecisionScope.Enter(Options.MatmulPrecision);
                    group.Step(items.Select(x => ((Tensor)x.P.Value, x.G, x.S)).ToList(), Options, learningRate, _stackBytes);
                }
                else
                {
                    foreach (var (p, g, _) in items) StepParameter(p, g, learningRate);
                }
            }
        }
        finally
        {
            foreach (var g in grads) g.Dispose();
        }
    }

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
        ArgumentNullException.ThrowIfNull(s);
        ArgumentNullException.ThrowIfNull(projector);
        Transport(projector.LeftForm(s.M), projector.LeftForm(s.V), c, factor);
    }

    /// <summary>
    /// The transport on moments already in left form (r'×c, or a B×r'×c stack with B×r'×r' <paramref name="c"/>), in place.
    /// </summary>
    public static void Transport(Tensor m, Tensor v, Tensor c, double factor)
    {
        ArgumentNullException.ThrowIfNull(m);
        ArgumentNullException.ThrowIfNull(v);
        ArgumentNullException.ThrowIfNull(c);
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
    /// The norm-growth limiter <c>max(‖Λ‖/(ℓ + 1e−8), ζ)/ζ</c> as a device tensor (no host round trip): 0-d, or
    /// elementwise over a shape group's B norms.
    /// </summary>
    public static Tensor Limiter(Tensor norm, Tensor previous, double zeta)
    {
        ArgumentNullException.ThrowIfNull(norm);
        ArgumentNullException.ThrowIfNull(previous);
        return norm.div(previous.add(1e-8)).clamp_min_(zeta).div_(zeta);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            foreach (var group in _groups.Values) group.Dispose();
        _groups.Clear();
        base.Dispose(disposing);
    }
}
