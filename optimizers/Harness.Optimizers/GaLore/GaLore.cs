using Harness.Optimizers.LowRank;

namespace Harness.Optimizers.GaLore;

/// <summary>Options of <see cref="GaLore"/> (<c>kind: galore</c>).</summary>
public sealed record GaLoreOptions : LowRankAdamOptions
{
    /// <summary>T: the SVD is recomputed at steps 0, T, 2T, … (0-based).</summary>
    public int UpdateProjGap { get; init; } = 50;

    /// <summary>Which side(s) to project: <c>std</c>, <c>reverse_std</c>, <c>left</c>, <c>right</c> or <c>full</c>.</summary>
    public string ProjType { get; init; } = "std";

    public override IEnumerable<OptionProblem> Validate()
    {
        foreach (var p in base.Validate()) yield return p;
        if (UpdateProjGap <= 0) yield return new("update_proj_gap", $"must be > 0 (got {UpdateProjGap})");
        if (!SvdProjector.ProjTypes.Contains(ProjType))
            yield return new("proj_type", $"must be one of {string.Join(", ", SvdProjector.ProjTypes)} (got '{ProjType}')");
    }
}

/// <summary>
/// GaLore: gradient low-rank projection. Zhao et al., "GaLore: Memory-Efficient LLM Training by Gradient
/// Low-Rank Projection", ICML 2024, arXiv 2403.03507. Reference code: jiaweizzhao/GaLore
/// <c>galore_torch/adamw.py</c> and <c>galore_torch/galore_projector.py</c> @2cc66f8, against which the
/// golden <c>galore</c> trace was recorded.
/// </summary>
/// <remarks>
/// For a Matrix-role parameter W (m×n) with gradient G, 0-based step k = t − 1, rank r' = min(r, m, n):
/// <code>
/// if k % T == 0: P ← top-r' singular vectors of G (side per proj_type, see SvdProjector)
/// R = project(G)                                   (r'×n or m×r'; moments keep their values across a refresh)
/// M ← β1·M + (1−β1)·R;  V ← β2·V + (1−β2)·R²
/// W ← W − lr·√(1−β2^t)/(1−β1^t) · α·project_back(M / (√V + ε))
/// W ← W − lr·wd·W                                  (after the update; not scaled by α)
/// </code>
/// Every other parameter gets the same Adam without the projection (the reference's second group).
/// State bytes per Matrix parameter, b = element size: std → (2·r'·max(m,n) + r'·min(m,n))·b;
/// reverse_std → (2·r'·min + r'·max)·b; left → (m·r' + 2·r'·n)·b; right → (r'·n + 2·m·r')·b;
/// full → (m·r' + r'·n + 2·r'²)·b. Other parameters: 2·numel·b. A rank larger than a matrix side is
/// clamped to that side, as the reference's SVD slice does (no error).
/// The moments persist across a refresh, so the result depends on the signs LAPACK gives the singular
/// vectors (arbitrary per pair); <see cref="ISvdSignChoice"/> lets the golden check replay other signs.
/// </remarks>
public sealed class GaLore(IReadOnlyList<NamedParameter> parameters, GaLoreOptions options)
    : PerParameterOptimizer<GaLoreOptions, LowRankAdamState>(parameters, options), ISvdSignChoice
{
    private readonly Dictionary<(string Parameter, long Step), ulong> _signFlips = [];

    /// <summary>The closed-form state size, independent of the tensors (the catalog's formula).</summary>
    public static long ExpectedStateBytes(IReadOnlyList<NamedParameter> parameters, GaLoreOptions o) =>
        parameters.Sum(p =>
        {
            var b = p.Value.element_size();
            if (p.Role != ParamRole.Matrix || p.Value.dim() != 2) return 2 * p.Value.numel() * b;
            var (m, n) = (p.Value.shape[0], p.Value.shape[1]);
            var r = Math.Min(o.Rank, Math.Min(m, n));
            var (left, right) = SvdProjector.Sides(o.ProjType, m, n);
            var moment = (left ? r : m) * (right ? r : n);
            return ((left ? m * r : 0) + (right ? r * n : 0) + 2 * moment) * b;
        });

    protected override LowRankAdamState CreateState(NamedParameter p) =>
        new(p.Role == ParamRole.Matrix
                ? new SvdProjector(p.Value.shape, p.Value.dtype, p.Value.device, Options.Rank, Options.UpdateProjGap, Options.Scale, Options.ProjType,
                    step => _signFlips.GetValueOrDefault((p.Name, step)))
                : null,
            p.Value);

    protected override void Update(NamedParameter p, TorchSharp.torch.Tensor grad, LowRankAdamState s, double lr) =>
        LowRankAdam.Step(p.Value, grad, s, Options, lr);

    public IReadOnlyList<long> SvdSteps(string parameter, long from, long to) =>
        BasisSize(parameter) == 0 ? [] : SvdProjector.SvdSteps(Options.UpdateProjGap, from, to).ToList();

    public int BasisSize(string parameter) =>
        Parameters.FirstOrDefault(p => p.Name == parameter) is { Role: ParamRole.Matrix } p && p.Value.dim() == 2
            ? (int)Math.Min(Options.Rank, Math.Min(p.Value.shape[0], p.Value.shape[1]))
            : 0;

    public void FlipSingularVectors(string parameter, long step, ulong mask)
    {
        if (BasisSize(parameter) == 0) throw new ArgumentException($"'{parameter}' has no SVD basis", nameof(parameter));
        _signFlips[(parameter, step)] = mask;
    }
}
