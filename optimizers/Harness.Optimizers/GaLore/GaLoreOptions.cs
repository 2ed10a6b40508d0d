using System.Text.Json.Serialization;
using Harness.Optimizers.LowRank;

namespace Harness.Optimizers.GaLore;

/// <summary>Options of <see cref="GaLore"/> (<c>kind: galore</c>).</summary>
public sealed record GaLoreOptions : LowRankAdamOptions, IReferenceTraceOptions, IProjectorRefreshOption, IMatmulPrecisionOption
{
    /// <summary>
    /// <c>tensor-ops</c>: the per-parameter reference; <c>batched</c>: one-sided projections of same-shaped
    /// matrices as one bmm per shape, their moments as one stacked buffer, the update added by addmm; <c>auto</c>
    /// (default) = batched, with the full-rank parameters (embedding, head, vectors) through the fused AdamW kernel
    /// where it is attached and the parameters are on CUDA; <c>cuda-fused</c> = the same, the kernel required.
    /// See <see cref="StepImplementation"/>.
    /// </summary>
    public string Implementation { get; init; } = StepImplementation.Auto;

    /// <summary>The golden trace is checked against the per-parameter reference path.</summary>
    public OptimizerOptions ReferenceTraceDefaults => this with { Implementation = StepImplementation.TensorOps };

    /// <summary>T: the SVD is recomputed at steps 0, T, 2T, … (0-based).</summary>
    public int UpdateProjGap { get; init; } = 50;

    /// <summary>Which side(s) to project: <c>std</c>, <c>reverse_std</c>, <c>left</c>, <c>right</c> or <c>full</c>.</summary>
    public string ProjType { get; init; } = "std";

    /// <summary>
    /// <c>svd</c> (unset: the reference) or <c>subspace_iteration</c>: after the first SVD, each refresh refines the previous
    /// basis by <see cref="ProjectorIterations"/> warm-started power/QR iterations (<see cref="SubspaceIteration"/>), faster
    /// than the reference and not equal to it (accuracy: optimizers/README.md, "Faster-than-reference options").
    /// Left out of the run id when unset.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ProjectorRefresh? Projector { get; init; }

    /// <summary>Iterations per refresh with <c>projector: subspace_iteration</c> (unset: 2). Left out of the run id when unset.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? ProjectorIterations { get; init; }

    /// <summary>
    /// <c>highest</c> (unset: the reference) or <c>tf32</c>: the step's float32 products (projections, subspace iterations) on
    /// TF32 tensor cores (CUDA only; see <see cref="MatmulPrecisionScope"/>). Left out of the run id when unset.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public MatmulPrecision? MatmulPrecision { get; init; }

    public OptimizerOptions WithProjector(ProjectorRefresh? projector, int? iterations) => this with { Projector = projector, ProjectorIterations = iterations };

    public OptimizerOptions WithMatmulPrecision(MatmulPrecision? precision) => this with { MatmulPrecision = precision };

    public override IEnumerable<OptionProblem> Validate()
    {
        foreach (var p in base.Validate()) yield return p;
        if (ProjectorIterations is { } iterations)
        {
            if (iterations < 1) yield return new("projector_iterations", $"must be >= 1 (got {iterations})");
            if (Projector != ProjectorRefresh.SubspaceIteration) yield return new("projector_iterations", "applies only with projector: subspace_iteration");
        }
        if (UpdateProjGap <= 0) yield return new("update_proj_gap", $"must be > 0 (got {UpdateProjGap})");
        foreach (var p in StepImplementation.Validate(Implementation, fusedKernel: true)) yield return p;
        if (!SvdProjector.ProjTypes.Contains(ProjType))
            yield return new("proj_type", $"must be one of {string.Join(", ", SvdProjector.ProjTypes)} (got '{ProjType}')");
    }
}
