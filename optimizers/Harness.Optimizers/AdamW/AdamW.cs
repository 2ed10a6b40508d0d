using Harness.Optimizers.Kernels;
using static TorchSharp.torch;

namespace Harness.Optimizers.AdamW;

/// <summary>Options of <see cref="AdamW"/> (defaults of <c>torch.optim.AdamW</c>, except weight decay 0).</summary>
public sealed record AdamWOptions : OptimizerOptions
{
    public IReadOnlyList<double> Betas { get; init; } = [0.9, 0.999];
    public double Eps { get; init; } = 1e-8;
    public double WeightDecay { get; init; }
    /// <summary><c>auto</c> (the fused CUDA kernel on CUDA, tensor ops elsewhere), <c>tensor-ops</c> or <c>cuda-fused</c>.</summary>
    public string Implementation { get; init; } = ImplementationChoice.Auto;

    public override IEnumerable<OptionProblem> Validate() =>
        base.Validate().Concat(ValidateBetas(Betas)).Concat(Positive(Eps, "eps")).Concat(NonNegative(WeightDecay, "weight_decay"))
            .Concat(ImplementationChoice.Validate(Implementation));
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
/// On CUDA the step runs as one multi-tensor kernel (<c>optimizers/kernels</c>, <c>implementation: cuda-fused</c>)
/// that applies the same ops with the same roundings; <c>tensor-ops</c> keeps the per-tensor ops above. With the
/// kernels attached, FORGE's linear weights can also be stepped by the tile-fused kernel
/// (<see cref="ITileFusedLinearStep"/>), which forms the weight gradient inside the kernel.
/// </remarks>
public sealed class AdamW(IReadOnlyList<NamedParameter> parameters, AdamWOptions options)
    : ElementwiseOptimizer<AdamWOptions, AdamW.State>(parameters, options), IFusedKernelUser, ITileFusedLinearStep
{
    private FusedKernels? _kernels;
    private string _kernelStatus = "no kernels attached";

    public override string Implementation => ImplementationChoice.NameOf(_kernels);

    public void AttachKernels(FusedKernels? kernels, string status)
    {
        _kernels = ImplementationChoice.Resolve(Options.Implementation, kernels, status, Parameters, "adamw");
        _kernelStatus = status;
    }

    protected override bool FusedEnabled => _kernels is not null;

    protected override bool CanFuse(NamedParameter p, Tensor grad, State s) =>
        _kernels is { } k && k.Accepts(p.Value) && k.Accepts(grad, p.Value.dtype) && k.Accepts(s.M, p.Value.dtype) && k.Accepts(s.V, p.Value.dtype);

    protected override void StepFused(IReadOnlyList<(NamedParameter Parameter, Tensor Grad, State State)> items, double lr)
    {
        var kernels = _kernels!;
        // One launch group per (dtype, step): the bias corrections depend on the step.
        foreach (var group in items.GroupBy(x => (x.Parameter.Value.dtype, x.State.Step)))
            kernels.AdamW(group.Select(x => ((Tensor)x.Parameter.Value, x.Grad, x.State.M, x.State.V)).ToList(), ScalarsAt(group.Key.Step, lr));
    }

    /// <summary>The kernels' scalars at step <paramref name="step"/>, formed as the tensor ops above form theirs.</summary>
    private AdamWScalars ScalarsAt(long step, double lr)
    {
        var (beta1, beta2) = (Options.Betas[0], Options.Betas[1]);
        return new AdamWScalars(
            Decay: (float)(1 - lr * Options.WeightDecay),
            W1: (float)(1 - beta1),
            Beta2: (float)beta2,
            W2: (float)(1 - beta2),
            // torch divides by a CPU scalar as a multiply by its reciprocal, taken in double and then rounded
            // to float (measured on an H100 with torch 2.11: 100 % of elements agree that way, 1 % with a float
            // reciprocal).
            InvBc2Sqrt: (float)(1 / Math.Sqrt(1 - Math.Pow(beta2, step))),
            Eps: (float)Options.Eps,
            NegStep: (float)(-lr / (1 - Math.Pow(beta1, step))),
            ApplyDecay: Options.WeightDecay != 0);
    }

    public string? TileUnavailableReason(NamedParameter weight)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (_kernels is not { } k)
            return Options.Implementation == ImplementationChoice.TensorOps ? "adamw runs implementation: tensor-ops" : $"adamw has no fused kernels ({_kernelStatus})";
        if (!k.HasForgeTile) return $"the kernel library {k.LibraryPath} has no tile step (hk_forge_adamw)";
        if (weight.Value.dim() != 2 || !k.Accepts(weight.Value))
            return $"'{weight.Name}' is not a contiguous float32 or bfloat16 matrix on the kernels' device ({k.DeviceType})";
        return null;
    }

    public bool TryStepLinear(NamedParameter weight, Tensor x, Tensor dy, Tensor? pending, Tensor? clipScale, double learningRate)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(dy);
        if (TileUnavailableReason(weight) is not null) return false;
        var (kernels, p) = (_kernels!, weight.Value);
        var dtype = p.dtype;
        if (!kernels.Accepts(x, dtype) || !kernels.Accepts(dy, dtype) || x.dim() != 2 || dy.dim() != 2
            || x.shape[1] != p.shape[1] || dy.shape[1] != p.shape[0] || dy.shape[0] != x.shape[0])
            return false;
        if (pending is not null && (!kernels.Accepts(pending, ScalarType.Float32) || !pending.shape.SequenceEqual(p.shape))) return false;
        if (clipScale is not null && (!kernels.Accepts(clipScale, ScalarType.Float32) || clipScale.numel() != 1)) return false;
        var state = StateFor(weight);
        if (!kernels.Accepts(state.M, dtype) || !kernels.Accepts(state.V, dtype)) return false;
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        // The slab path multiplies its gradient (dtype T) in place by the fp32 coefficient: CUDA torch reads the
        // coefficient as T there (a bf16 rounding), CPU torch (the emulated build's reference) as a float.
        var clip = clipScale is not null && dtype == ScalarType.BFloat16 && !kernels.IsEmulated
            ? clipScale.to(dtype).to(ScalarType.Float32) : clipScale;
        state.Step++; // once per step, as StepSlabs
        kernels.ForgeAdamW(x, dy, pending, clip, p, state.M, state.V, ScalarsAt(state.Step, learningRate));
        return true;
    }

    public sealed class State(Tensor m, Tensor v) : ParameterState
    {
        public Tensor M { get; } = m;
        public Tensor V { get; } = v;
        public override IEnumerable<(string Name, Tensor Tensor)> Tensors => [("exp_avg", M), ("exp_avg_sq", V)];
    }

    public override string StateDtype => Parameters.Count == 0 ? "float32" : Parameters[0].Value.dtype.ToString().ToLowerInvariant();

    protected override State CreateState(NamedParameter p) => new(zeros_like(p.Value), zeros_like(p.Value));

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
