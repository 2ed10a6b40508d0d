using System.Text.Json.Serialization;
using Harness.Optimizers.AdamW;
using Harness.Optimizers.Kernels;
using Harness.Optimizers.LowRank;
using static TorchSharp.torch;

namespace Harness.Optimizers.Swan;

/// <summary>Options of <see cref="Swan"/>; the unverified details are options with the spec's best values.</summary>
public sealed record SwanOptions : OptimizerOptions, IMatmulPrecisionOption
{
    /// <summary>Matrix step = lr · matrix_lr_scale. The 3rd-party recipe is 0.05 with a 20× larger global lr.</summary>
    public double MatrixLrScale { get; init; } = 1.0;
    /// <summary>Newton–Schulz iterations (k); β = 0.5 needs about 10 on well-conditioned input.</summary>
    public int NsSteps { get; init; } = 10;
    /// <summary>Newton–Schulz β; 0.5 converges to the exact inverse square root, other values only approximately.</summary>
    public double NsBeta { get; init; } = 0.5;
    public SwanNormAxis NormAxis { get; init; } = SwanNormAxis.Input;
    /// <summary>Added to each row's standard deviation in GradNorm.</summary>
    public double NormEps { get; init; } = 1e-8;
    /// <summary>Rescale the whitened update to unit RMS (√(mn)·ΔW/‖ΔW‖_F).</summary>
    public bool UnitRms { get; init; } = true;
    /// <summary>Put the LM head (OutputHead role) on SWAN instead of Adam.</summary>
    public bool SwanOnHead { get; init; }
    /// <summary>Adam settings for the embeddings, head and vectors.</summary>
    public IReadOnlyList<double> Betas { get; init; } = [0.9, 0.999];
    public double Eps { get; init; } = 1e-8;
    /// <summary>Decoupled weight decay of the Adam part only (the SWAN recipe uses none on matrices).</summary>
    public double WeightDecay { get; init; }
    /// <summary>
    /// <c>tensor-ops</c>: one matrix at a time (the reference); <c>batched</c>: same-shaped matrices stacked, one
    /// Newton–Schulz bmm chain per shape; <c>auto</c> (default) = batched, with the Adam part (embeddings, head, vectors)
    /// through the fused AdamW kernel where it is attached and the parameters are on CUDA; <c>cuda-fused</c> = the same,
    /// the kernel required. All are free of host syncs.
    /// </summary>
    public string Implementation { get; init; } = StepImplementation.Auto;

    /// <summary>
    /// <c>highest</c> (unset) or <c>tf32</c>: Newton–Schulz's float32 products on TF32 tensor cores (CUDA only; not the
    /// reference, see optimizers/README.md and <see cref="MatmulPrecisionScope"/>). Left out of the run id when unset.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public MatmulPrecision? MatmulPrecision { get; init; }

    public OptimizerOptions WithMatmulPrecision(MatmulPrecision? precision) => this with { MatmulPrecision = precision };

    /// <summary>True when the step stacks same-shaped matrices.</summary>
    public bool Batched => StepImplementation.IsBatched(Implementation);

    public override IEnumerable<OptionProblem> Validate()
    {
        foreach (var p in base.Validate().Concat(ValidateBetas(Betas)).Concat(Positive(Eps, "eps"))
                     .Concat(NonNegative(WeightDecay, "weight_decay")).Concat(Positive(MatrixLrScale, "matrix_lr_scale"))
                     .Concat(Positive(NormEps, "norm_eps")))
            yield return p;
        if (NsSteps < 1) yield return new("ns_steps", $"must be >= 1 (got {NsSteps})");
        if (!(NsBeta > 0 && NsBeta < 1)) yield return new("ns_beta", $"must be in (0, 1) (got {NsBeta:R})");
        foreach (var p in StepImplementation.Validate(Implementation, fusedKernel: true)) yield return p;
    }

    internal AdamWOptions AdamPart => new()
    {
        Lr = Lr, Betas = Betas, Eps = Eps, WeightDecay = WeightDecay,
        Implementation = Implementation is StepImplementation.Auto or StepImplementation.CudaFused ? Implementation : ImplementationChoice.TensorOps,
    };
}

/// <summary>
/// SWAN, "SGD with Whitening And Normalization": Ma, Gong, Scetbon, Meeds, "SWAN: SGD with Normalization
/// and Whitening Enables Stateless LLM Training", ICML 2025, arXiv 2412.13148. Reference code: none public
/// (announced at microsoft/msr_optim, not available); formulas from the authors' follow-up arXiv 2502.07752
/// App. B.7–B.8 as collected in <c>specs/swan-subtrack-forge.md</c> §1.
/// </summary>
/// <remarks>
/// For each Matrix-role parameter, with gradient G (m×n) and learning rate η, stateless:
/// <code>
/// G̃ = (G − mean) / (std + ε)          GradNorm, per vector along norm_axis, population std
/// orient so that G̃ is m'×n', m' ≤ n' (transpose if needed)
/// X = G̃/‖G̃‖_F;  Y = XXᵀ;  Z = I;  k times: T = 3I − ZY;  Y ← βYT;  Z ← βTZ
/// ΔW = Z X  (≈ (G̃G̃ᵀ)^{-1/2} G̃, the polar factor), in fp32, transposed back
/// ΔW ← √(mn)·ΔW/‖ΔW‖_F                 (unit_rms)
/// W ← W − η·matrix_lr_scale·ΔW
/// </code>
/// Embeddings, the head (unless swan_on_head) and vectors are stepped by <see cref="AdamW.AdamW"/> with
/// lr η (composition, not a copy). State: 0 B for SWAN matrices; 2 × numel × element size for the Adam part.
/// Verified (abstract, paper quotes): stateless, GradNorm then GradWhitening by Newton–Schulz, fp32 whitening,
/// GradNorm's formula (2502.07752 eq. 30). Not verified (no paper body or code): the GradNorm axis, β and k,
/// unit-RMS scaling, the lr multiplier, and which parameters use Adam (inferred from the GaLore benchmark
/// and the authors' SinkGD recipe). Off by default, not the reference: <c>matmul_precision: tf32</c> runs
/// Newton–Schulz's products on TF32 tensor cores (CUDA only; its accuracy is not measured yet, optimizers/README.md §7).
/// </remarks>
public sealed class Swan : OptimizerBase<SwanOptions>, IPerParameterStep, IFusedKernelUser
{
    private readonly AdamW.AdamW _adam;
    private readonly HashSet<string> _swanNames;

    public Swan(IReadOnlyList<NamedParameter> parameters, SwanOptions options)
        : base(parameters, options)
    {
        var swan = parameters.Where(p => UsesSwan(p, options)).ToList();
        _swanNames = swan.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        _adam = new AdamW.AdamW(parameters.Where(p => !_swanNames.Contains(p.Name)).ToList(), options.AdamPart);
    }

    public override string Implementation =>
        (Options.Batched ? "batched" : "tensor-ops") + (_adam.Implementation == ImplementationChoice.TensorOps ? "" : $"; {_adam.Implementation} adamw");

    /// <summary>The Adam part takes the kernels under <c>auto</c> and <c>cuda-fused</c> (see <see cref="SwanOptions.Implementation"/>).</summary>
    public void AttachKernels(FusedKernels? kernels, string status) => _adam.AttachKernels(kernels, status);
    public override string StateDtype => _adam.StateDtype;
    public override long StateBytes => _adam.StateBytes;

    /// <summary>Whether a parameter is whitened (2-D Matrix role, or the head when asked) rather than given to Adam.</summary>
    public static bool UsesSwan(NamedParameter p, SwanOptions options) =>
        p.Value.dim() == 2 && (p.Role == ParamRole.Matrix || (options.SwanOnHead && p.Role == ParamRole.OutputHead));

    public override void Step(double learningRate)
    {
        ThrowIfDisposed();
        using var noGrad = no_grad();
        var items = new List<(NamedParameter Parameter, Tensor Grad)>();
        try
        {
            foreach (var p in Parameters)
            {
                if (!_swanNames.Contains(p.Name)) continue;
                var grad = p.Value.grad;
                if (grad is not null) items.Add((p, grad));
            }
            if (Options.Batched)
            {
                foreach (var group in items.GroupBy(i => (i.Grad.shape[0], i.Grad.shape[1], i.Parameter.Value.dtype)))
                    StepGroup(group.ToList(), learningRate);
            }
            else
            {
                foreach (var (p, grad) in items) StepGroup([(p, grad)], learningRate);
            }
        }
        finally
        {
            foreach (var (_, grad) in items) grad.Dispose();
        }
        _adam.Step(learningRate);
    }

    public void StepParameter(NamedParameter parameter, Tensor grad, double learningRate)
    {
        ThrowIfDisposed();
        if (!_swanNames.Contains(parameter.Name))
        {
            _adam.StepParameter(parameter, grad, learningRate);
            return;
        }
        using var noGrad = no_grad();
        StepMatrix(parameter, grad, learningRate);
    }

    private void StepMatrix(NamedParameter p, Tensor grad, double lr) => StepGroup([(p, grad)], lr);

    // One or more same-shaped matrices: a single one is whitened as a matrix (the reference path), several
    // are stacked and whitened together; norms and the unit-RMS scale stay device tensors (no host sync).
    private void StepGroup(IReadOnlyList<(NamedParameter Parameter, Tensor Grad)> group, double lr)
    {
        using var scope = NewDisposeScope();
        using var precision = MatmulPrecisionScope.Enter(Options.MatmulPrecision);
        var single = group.Count == 1;
        var g = single ? group[0].Grad.to_type(ScalarType.Float32) : stack(group.Select(i => i.Grad.to_type(ScalarType.Float32)));
        var normalized = GradNorm(g, Options.NormAxis, Options.NormEps);
        var update = Whiten(normalized, Options.NsSteps, Options.NsBeta);
        if (Options.UnitRms)
        {
            var norm = single ? update.norm() : update.flatten(-2).norm(-1).view(-1, 1, 1);
            var positive = norm.gt(0);
            update.mul_(where(positive, norm.reciprocal().mul_(Math.Sqrt(update.shape[^1] * update.shape[^2])), ones_like(norm)));
        }
        for (var i = 0; i < group.Count; i++)
        {
            var param = group[i].Parameter.Value;
            param.add_((single ? update : update[i]).to_type(param.dtype), alpha: -lr * Options.MatrixLrScale);
        }
    }

    /// <summary>
    /// GradNorm: standardise each vector along <paramref name="axis"/> to mean 0 and population std 1 (+ε).
    /// <paramref name="g"/> is one matrix or a stack of same-shaped matrices (the last two dimensions).
    /// </summary>
    public static Tensor GradNorm(Tensor g, SwanNormAxis axis, double eps)
    {
        ArgumentNullException.ThrowIfNull(g);
        var dim = axis switch
        {
            SwanNormAxis.Input => -1L,
            SwanNormAxis.Output => -2L,
            _ => g.shape[^2] <= g.shape[^1] ? -1L : -2L,
        };
        using var scope = NewDisposeScope();
        var centered = g - g.mean([dim], keepdim: true);
        var std = centered.square().mean([dim], keepdim: true).sqrt_().add_(eps);
        return centered.div_(std).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// GradWhitening: (GGᵀ)^{-1/2}G by the coupled Newton–Schulz iteration in fp32, on the orientation whose
    /// Gram matrix is the smaller one. <paramref name="g"/> is one matrix or a stack of same-shaped matrices
    /// (then each iteration is three bmm over the stack; the first iteration needs one, the last two, so k
    /// iterations take 3k − 3 products instead of 3k, with the same values). A zero input gives a zero output: its norm is
    /// replaced by 1 on the device (X = 0 ⇒ ZX = 0), so there is no host-side test.
    /// </summary>
    public static Tensor Whiten(Tensor g, int steps, double beta)
    {
        ArgumentNullException.ThrowIfNull(g);
        using var scope = NewDisposeScope();
        var tall = g.shape[^2] > g.shape[^1];
        var x = (tall ? g.transpose(-2, -1) : g).to_type(ScalarType.Float32);
        var norm = x.dim() == 2 ? x.norm() : x.flatten(-2).norm(-1).view(-1, 1, 1);
        x = x / where(norm.eq(0), ones_like(norm), norm);
        var m = x.shape[^2];
        var identity = eye(m, dtype: ScalarType.Float32, device: x.device);
        var three = identity * 3;
        var y = x.matmul(x.transpose(-2, -1));
        Tensor? z = null; // Z = I: the first iteration's Z·Y and T·Z are Y and T exactly, so they are skipped
        for (var i = 0; i < steps; i++)
        {
            var t = z is null ? three - y : three - z.matmul(y);
            if (i < steps - 1) y = y.matmul(t).mul_(beta); // the last Y is never read
            z = z is null ? t.mul_(beta) : t.matmul(z).mul_(beta);
        }
        var result = z!.matmul(x);
        return (tall ? result.transpose(-2, -1).contiguous() : result).MoveToOuterDisposeScope();
    }

    public override IReadOnlyDictionary<string, Tensor> StateDict() => _adam.StateDict();

    public override void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        foreach (var key in state.Keys)
            if (_swanNames.Contains(key[..Math.Max(0, key.LastIndexOf('/'))]))
                throw new OptimizerStateException($"'{key}': SWAN matrices are stateless, the state dict must not hold them");
        _adam.LoadStateDict(state);
    }

    protected override void Dispose(bool disposing)
    {
        if (IsDisposed) return;
        if (disposing) _adam.Dispose();
        base.Dispose(disposing);
    }
}
