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
/// (<see cref="ITileFusedLinearStep"/>), which forms the weight gradient inside the kernel: from bf16 activations (dtype
/// mixed or bfloat16) on tensor cores (<c>hk_forge_tc</c>), otherwise on the fp32-FMA tile (<c>hk_forge_adamw</c>, the
/// exact reference). FORGE's bf16 state (<see cref="UseBf16StochasticState"/>, <c>forge_state: bf16</c>): the chosen
/// weights keep bfloat16 m and v whatever their own dtype; the tensor-core kernel computes the rule in fp32 and stores
/// m and v (and a bfloat16 weight) by stochastic rounding (FORGE §2.3), the tensor ops (slabs) compute in fp32 and store
/// to nearest.
/// </remarks>
public sealed class AdamW(IReadOnlyList<NamedParameter> parameters, AdamWOptions options)
    : ElementwiseOptimizer<AdamWOptions, AdamW.State>(parameters, options), IFusedKernelUser, ITileFusedLinearStep
{
    private FusedKernels? _kernels;
    private string _kernelStatus = "no kernels attached";
    private readonly HashSet<string> _bf16State = new(StringComparer.Ordinal);
    private readonly ulong _seedSalt = 0x5EED_F0E6_0000_0001ul;

    /// <summary>
    /// FORGE's bf16 state for <paramref name="weight"/>: bfloat16 m and v (stochastically rounded by the tensor-core tile
    /// kernel). Call before its first step (its state must not exist yet).
    /// </summary>
    public void UseBf16StochasticState(NamedParameter weight)
    {
        ArgumentNullException.ThrowIfNull(weight);
        var full = Parameters[IndexOf(weight)];
        if (HasState(full)) throw new InvalidOperationException($"'{full.Name}' already has AdamW state; choose its state dtype before the first step");
        _bf16State.Add(full.Name);
    }

    /// <summary>True when <paramref name="weight"/> keeps FORGE's bf16 state (<see cref="UseBf16StochasticState"/>).</summary>
    public bool HasBf16StochasticState(NamedParameter weight) => _bf16State.Contains(weight.Name);

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
        if (!k.HasForgeTile && !k.HasForgeTensorCore) return $"the kernel library {k.LibraryPath} has no tile step (hk_forge_adamw, hk_forge_tc)";
        if (HasBf16StochasticState(weight) && !k.HasForgeTensorCore) return $"bf16 state needs the tensor-core tile step (hk_forge_tc), which {k.LibraryPath} lacks";
        if (weight.Value.dim() != 2 || !k.Accepts(weight.Value))
            return $"'{weight.Name}' is not a contiguous float32 or bfloat16 matrix on the kernels' device ({k.DeviceType})";
        return null;
    }

    public bool TryStepLinear(NamedParameter weight, Tensor x, Tensor dy, Tensor? pending, Tensor? clipScale, double learningRate, bool tensorCores = true)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(dy);
        if (TileUnavailableReason(weight) is not null) return false;
        var (kernels, p) = (_kernels!, weight.Value);
        var dtype = p.dtype;
        var bf16State = HasBf16StochasticState(weight);
        // Tensor cores: bf16 operands (dtype mixed or bfloat16), rows and columns multiples of 8; else the fp32-FMA tile
        // with operands of the weight's dtype.
        var onTensorCores = tensorCores && kernels.HasForgeTensorCore && kernels.AcceptsTensorCoreOperands(x, dy)
            && p.shape[0] % 8 == 0 && p.shape[1] % 8 == 0;
        var operand = onTensorCores ? ScalarType.BFloat16 : dtype;
        if ((!onTensorCores && (bf16State || !kernels.HasForgeTile)) || !kernels.Accepts(x, operand) || !kernels.Accepts(dy, operand)
            || x.dim() != 2 || dy.dim() != 2 || x.shape[1] != p.shape[1] || dy.shape[1] != p.shape[0] || dy.shape[0] != x.shape[0])
            return false;
        if (pending is not null && (!kernels.Accepts(pending, ScalarType.Float32) || !pending.shape.SequenceEqual(p.shape))) return false;
        if (clipScale is not null && (!kernels.Accepts(clipScale, ScalarType.Float32) || clipScale.numel() != 1)) return false;
        var state = StateFor(weight);
        var stateDtype = bf16State ? ScalarType.BFloat16 : dtype;
        if (!kernels.Accepts(state.M, stateDtype) || !kernels.Accepts(state.V, stateDtype)) return false;
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        // The slab path multiplies its gradient (dtype T) in place by the fp32 coefficient: CUDA torch reads the
        // coefficient as T there (a bf16 rounding), CPU torch (the emulated build's reference) as a float.
        var clip = clipScale is not null && dtype == ScalarType.BFloat16 && !kernels.IsEmulated
            ? clipScale.to(dtype).to(ScalarType.Float32) : clipScale;
        state.Step++; // once per step, as StepSlabs
        var scalars = ScalarsAt(state.Step, learningRate);
        if (onTensorCores)
            kernels.ForgeTensorCore(bf16State ? ForgeTileKind.AdamWBf16Stochastic : ForgeTileKind.AdamW, x, dy, pending, clip, p, state.M, state.V,
                null, null, scalars.Pack(), null, null, StochasticSeed(weight.Name, state.Step));
        else
            kernels.ForgeAdamW(x, dy, pending, clip, p, state.M, state.V, scalars);
        return true;
    }

    /// <summary>The stochastic-rounding stream of one weight at one step: SplitMix64 over an FNV-1a hash of the name and the step.</summary>
    private ulong StochasticSeed(string name, long step)
    {
        var h = 0xcbf29ce484222325ul ^ _seedSalt;
        foreach (var ch in name) h = (h ^ ch) * 0x100000001b3ul;
        var z = h + (ulong)step * 0x9E3779B97F4A7C15ul;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ul;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBul;
        return z ^ (z >> 31);
    }

    /// <summary>A state of another dtype than its parameter (FORGE's bf16 state): the same ops on float32 copies, stored back to nearest.</summary>
    private void UpdateInFloat32(NamedParameter p, Tensor grad, State s, double lr)
    {
        using var scope = NewDisposeScope();
        var (m, v, param) = (s.M.to(ScalarType.Float32), s.V.to(ScalarType.Float32), p.Value.to(ScalarType.Float32));
        var (beta1, beta2) = (Options.Betas[0], Options.Betas[1]);
        var g = grad.to(ScalarType.Float32);
        if (Options.WeightDecay != 0) param.mul_(1 - lr * Options.WeightDecay);
        m.lerp_(g, 1 - beta1);
        v.mul_(beta2).addcmul_(g, g, value: 1 - beta2);
        var denom = v.sqrt().div_(Math.Sqrt(1 - Math.Pow(beta2, s.Step))).add_(Options.Eps);
        param.addcdiv_(m, denom, value: -lr / (1 - Math.Pow(beta1, s.Step)));
        s.M.copy_(m);
        s.V.copy_(v);
        p.Value.copy_(param);
    }

    public sealed class State(Tensor m, Tensor v) : ParameterState
    {
        public Tensor M { get; } = m;
        public Tensor V { get; } = v;
        public override IEnumerable<(string Name, Tensor Tensor)> Tensors => [("exp_avg", M), ("exp_avg_sq", V)];
    }

    public override string StateDtype => Parameters.Count == 0 ? "float32" : Parameters[0].Value.dtype.ToString().ToLowerInvariant();

    protected override State CreateState(NamedParameter p) => HasBf16StochasticState(p)
        ? new(zeros_like(p.Value, ScalarType.BFloat16), zeros_like(p.Value, ScalarType.BFloat16))
        : new(zeros_like(p.Value), zeros_like(p.Value));

    protected override State SliceState(State s, long start, long length) => new(s.M.narrow(0, start, length), s.V.narrow(0, start, length));

    protected override void Update(NamedParameter p, Tensor grad, State s, double lr)
    {
        if (s.M.dtype != p.Value.dtype)
        {
            UpdateInFloat32(p, grad, s, lr);
            return;
        }
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
