using Harness.Optimizers.Kernels;
using static TorchSharp.torch;

namespace Harness.Optimizers.Gefen;

/// <summary>Options of <see cref="Gefen"/> (the reference constructor's defaults).</summary>
public sealed record GefenOptions : OptimizerOptions
{
    public IReadOnlyList<double> Betas { get; init; } = [0.9, 0.999];
    public double Eps { get; init; } = 1e-8;
    public double WeightDecay { get; init; }

    /// <summary>
    /// Store <c>vmean</c> and the scales in float32 whatever the gradient dtype (the reference's module flag
    /// <c>F_FP32</c>). Off by default, as upstream: with bf16 gradients the state is bf16 and <c>vmean</c> at
    /// β2 = 0.999 stalls (its EMA increment is below half a bf16 ulp), a documented hazard.
    /// </summary>
    public bool Fp32State { get; init; }

    /// <summary>
    /// When the first-step histogram has fewer than 256 active bins, pad the codebook as the reference does
    /// (repeat the last active centre). Off by default, a deliberate deviation: when every tensor has P = 1
    /// (small models) each block-normalised value is −1, 0 or +1, the padded codebook is {−1, ≈1, +1} and the
    /// momentum degenerates to a sign scaled by the tensor's max, which diverges on the conformance problem.
    /// Off, such a histogram gives the uniform grid linspace(−1, 1, 256). With ≥ 256 active bins (any model
    /// with structured matrices, e.g. the golden trace) both settings run the reference's exact DP.
    /// </summary>
    public bool PadSparseCodebook { get; init; }

    /// <summary><c>auto</c> (the fused CUDA kernel on CUDA, tensor ops elsewhere), <c>tensor-ops</c> or <c>cuda-fused</c>.</summary>
    public string Implementation { get; init; } = ImplementationChoice.Auto;

    public override IEnumerable<OptionProblem> Validate() =>
        base.Validate().Concat(ValidateBetas(Betas)).Concat(Positive(Eps, "eps")).Concat(NonNegative(WeightDecay, "weight_decay"))
            .Concat(ImplementationChoice.Validate(Implementation));
}

/// <summary>
/// "Gefen" by Nadav Benedek: AdamW with a block-shared second moment and a uint8 first moment in one
/// learned global codebook. Paper: N. Benedek, T. Koren, O. Fried, "Gefen: Optimized Stochastic Optimizer",
/// arXiv:2606.13894 (2026) — citation kept as Gefen's licence asks:
/// <c>@article{benedek2026gefen, title={Gefen: Optimized Stochastic Optimizer}, author={Benedek, Nadav and
/// Koren, Tomer and Fried, Ohad}, journal={arXiv preprint arXiv:2606.13894}, year={2026}}</c>.
/// This is a derivative of Gefen. Reference code: ndvbd/Gefen v1.2.3 @27f3a28, <c>gefen.py</c> (the
/// <c>fused=False</c> path, against which the golden <c>gefen</c> trace was recorded), <c>partitioning.py</c>,
/// <c>quantization.py</c>.
/// </summary>
/// <remarks>
/// Per tensor, flat gradient g (row-major) in blocks b of length P, the period chosen once from the first
/// gradient (<see cref="BlockPeriods"/>); one codebook C[256] for all tensors, learned at the first
/// <see cref="Step"/> from every gradient present (<see cref="CodebookDp"/>). Step t (from 1):
/// <code>
/// v_b ← β2·v_b + (1−β2)·mean_b(g²)
/// p   ← p·(1 − η·λ)                                  (only when λ &gt; 0)
/// m   ← lerp(μ·C[q], g, 1−β1)                        (dequantised momentum, EMA in fp32)
/// μ_b ← max_b |m| ;  q ← nearest(C, m/μ_b), ties to the lower index (0 for μ_b = 0)
/// p   ← p − η · (C[q]·μ_b) · (1/(1−β1^t)) / (√v_b / √(1−β2^t) + ε)
/// </code>
/// P = 1 (no structure found): v per element and μ per run of D = largest divisor of n ≤ 256.
/// State bytes per tensor of n elements, s = state element size (4 for fp32, 2 for bf16/fp16):
/// <c>n + s·n/P + s·n/P</c> for P &gt; 1, <c>n + s·n + s·n/D</c> for P = 1; plus the 1 KiB codebook once.
/// Not a per-parameter step: the first step needs every parameter's gradient for the codebook.
/// A state dict without the codebook is refused (upstream would silently re-learn one under old indices).
/// <para>On CUDA every step after the first runs as one multi-tensor kernel (<c>implementation: cuda-fused</c>,
/// <c>optimizers/kernels</c>): vmean and the fused update together, one CUDA block per segment, no
/// temporaries, the same ops as above (the non-fused reference path, not the official fused kernels: μ read
/// back in the state dtype, lerp, torch's step-size form). Known differences to the tensor ops: the Σg² order
/// (ULPs in v), and a NaN momentum is ignored by the block max (as the official fused kernel) where
/// <c>amax</c> would propagate it.</para>
/// </remarks>
public sealed class Gefen : OptimizerBase<GefenOptions>, IOptimizerDiagnostics, IFusedKernelUser
{
    /// <summary>State dict key of the global codebook (the name the golden trace uses).</summary>
    public const string CodebookKey = "gefen.codebook";
    /// <summary>State dict key of the optimizer-wide step counter.</summary>
    public const string GlobalStepKey = "gefen.global_step";
    /// <summary>Diagnostic name of the chosen periods (the golden manifest's field).</summary>
    public const string PeriodsKey = "gefen_periods";
    /// <summary>P = 1 tensors share a momentum scale over runs of the largest divisor at most this.</summary>
    public const long PeriodOneScaleLimit = 256;

    public sealed class State(long period, long scaleRun, Tensor codes, Tensor magnitude, Tensor vmean) : ParameterState
    {
        public long Period { get; } = period;
        /// <summary>Elements per momentum scale: P, or D when P = 1.</summary>
        public long ScaleRun { get; } = scaleRun;
        public Tensor Codes { get; } = codes;
        public Tensor Magnitude { get; } = magnitude;
        public Tensor VMean { get; } = vmean;
        public override IEnumerable<(string Name, Tensor Tensor)> Tensors => [("m_codebook", Codes), ("m_magnitude", Magnitude), ("vmean", VMean)];
    }

    private readonly State?[] _states;
    private Tensor? _codebook;
    private long _globalStep;

    public Gefen(IReadOnlyList<NamedParameter> parameters, GefenOptions options)
        : base(parameters, options) =>
        _states = new State?[parameters.Count];

    private FusedKernels? _kernels;

    public override string Implementation => ImplementationChoice.NameOf(_kernels);

    public void AttachKernels(FusedKernels? kernels, string status) =>
        _kernels = ImplementationChoice.Resolve(Options.Implementation, kernels, status, Parameters, "gefen");
    public override string StateDtype => "uint8+" + (_states.FirstOrDefault(s => s is not null)?.VMean.dtype ?? ScalarType.Float32).ToString().ToLowerInvariant();
    public override long StateBytes => _states.Sum(s => s?.Bytes ?? 0) + (_codebook is null ? 0 : CodebookDp.Codewords * sizeof(float));
    /// <summary>Optimizer steps taken (counting steps where no parameter had a gradient).</summary>
    public long GlobalStep => _globalStep;

    /// <summary>Exact persistent bytes of one tensor of <paramref name="numel"/> elements with period <paramref name="period"/>, state element size <paramref name="stateElementSize"/>.</summary>
    public static long TensorStateBytes(long numel, long period, long stateElementSize) =>
        numel + stateElementSize * (numel / period) + stateElementSize * (numel / ScaleRunOf(numel, period));

    /// <summary>
    /// The catalog formula: codebook + Σ <see cref="TensorStateBytes"/> with each period inferred from the
    /// parameter's current gradient, as the first step does; evaluate it while the first gradients are set.
    /// </summary>
    public static long ExpectedStateBytesFromGradients(IReadOnlyList<NamedParameter> parameters, GefenOptions options)
    {
        long total = 0;
        foreach (var p in parameters)
        {
            using var grad = p.Value.grad ?? throw new InvalidOperationException(
                $"Gefen's state size depends on the block periods of the first gradient; '{p.Name}' has none");
            if (grad.numel() > 0) total += TensorStateBytes(grad.numel(), BlockPeriods.Infer(grad), ElementSize(StateTypeFor(grad.dtype, options)));
        }
        return total == 0 ? 0 : total + CodebookDp.Codewords * sizeof(float);
    }

    public long ExpectedStateBytes =>
        _states.Sum(s => s is null ? 0 : TensorStateBytes(s.Codes.numel(), s.Period, s.VMean.element_size()))
        + (_codebook is null ? 0 : CodebookDp.Codewords * sizeof(float));

    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>> ParameterChoices =>
        new Dictionary<string, IReadOnlyDictionary<string, long>>
        {
            [PeriodsKey] = Enumerable.Range(0, _states.Length).Where(i => _states[i] is not null)
                .ToDictionary(i => Parameters[i].Name, i => _states[i]!.Period, StringComparer.Ordinal),
        };

    public IReadOnlyDictionary<string, Tensor> DerivedTensors =>
        _codebook is null ? new Dictionary<string, Tensor>() : new Dictionary<string, Tensor> { [CodebookKey] = _codebook };

    public override void Step(double learningRate)
    {
        ThrowIfDisposed();
        using var noGrad = no_grad();
        var grads = Parameters.Select(p => p.Value.grad).ToArray();
        try
        {
            if (_codebook is null) LearnCodebook(grads);
            var fused = new List<(int Index, Tensor Grad, State State)>();
            for (var i = 0; i < grads.Length; i++)
            {
                if (grads[i] is not { } g || g.numel() == 0) continue;
                if (_kernels is { } k && StateOf(i, g) is var s && CanFuse(k, i, g, s)) fused.Add((i, g, s));
                else Update(i, g, learningRate);
            }
            if (fused.Count > 0) StepFused(_kernels!, fused, learningRate);
            _globalStep++;
        }
        finally
        {
            foreach (var g in grads) g?.Dispose();
        }
    }

    // Periods of every tensor with a gradient, then one histogram over all of them, in parameter order.
    private void LearnCodebook(Tensor?[] grads)
    {
        var counts = new float[CodebookDp.Bins];
        var any = false;
        for (var i = 0; i < grads.Length; i++)
        {
            if (grads[i] is not { } g || g.numel() == 0) continue;
            var state = StateOf(i, g);
            CodebookDp.AccumulateHistogram(g, state.Period, counts);
            any = true;
        }
        if (!any) return;
        _codebook = tensor(CodebookDp.FromHistogram(counts, Options.PadSparseCodebook)).to(grads.First(g => g is not null)!.device).DetachFromDisposeScope();
    }

    private void Update(int i, Tensor grad, double lr)
    {
        var s = StateOf(i, grad);
        var codebook = _codebook ?? throw new InvalidOperationException("Gefen stepped before its codebook was learned");
        var (beta1, beta2) = (Options.Betas[0], Options.Betas[1]);
        var param = Parameters[i].Value;
        using var scope = NewDisposeScope();
        var n = grad.numel();
        var g = grad.reshape(n / s.Period, s.Period);
        var g32 = g.to(ScalarType.Float32);

        s.VMean.copy_(s.VMean.to(ScalarType.Float32).mul(beta2).add(g32.mul(g32).mean([1], keepdim: true), alpha: 1 - beta2));
        s.Step++;
        if (Options.WeightDecay > 0) param.mul_(1 - lr * Options.WeightDecay);
        var bc1 = 1 - Math.Pow(beta1, s.Step);
        var bc2 = 1 - Math.Pow(beta2, s.Step);
        var stepSize = s.VMean.to(ScalarType.Float32).sqrt().div_(Math.Sqrt(bc2)).add_(Options.Eps).reciprocal_().mul_(1 / bc1);

        var old = codebook.take(s.Codes.to(ScalarType.Int64)).to(grad.dtype).to(ScalarType.Float32) * ScalesFor(s).to(ScalarType.Float32);
        var m = old.lerp(g32, 1 - beta1);
        s.Magnitude.copy_(m.abs().reshape(-1, s.ScaleRun).amax([1], keepdim: true));
        var scales = ScalesFor(s).to(ScalarType.Float32);
        var normalized = m.div_(scales).masked_fill_(scales.gt(0).logical_not(), 0);
        var codes = CodebookDp.Nearest(codebook, normalized);
        s.Codes.copy_(codes.to(ScalarType.Byte));
        var quantized = codebook.take(codes).to(grad.dtype) * ScalesFor(s);
        param.add_((quantized * stepSize).reshape(param.shape).mul_(lr).neg_());
    }

    private bool CanFuse(FusedKernels k, int i, Tensor grad, State s)
    {
        var p = Parameters[i].Value;
        return k.Accepts(p) && k.Accepts(grad, p.dtype) && k.Accepts(s.Codes, ScalarType.Byte)
            && FusedKernels.DTypeCode(s.VMean.dtype) >= 0 && k.Accepts(s.VMean, s.VMean.dtype) && k.Accepts(s.Magnitude, s.VMean.dtype)
            && _codebook is { } c && k.Accepts(c, ScalarType.Float32);
    }

    private void StepFused(FusedKernels kernels, List<(int Index, Tensor Grad, State State)> items, double lr)
    {
        var (beta1, beta2) = (Options.Betas[0], Options.Betas[1]);
        foreach (var (_, _, s) in items) s.Step++;
        foreach (var group in items.GroupBy(x => (x.Grad.dtype, x.State.VMean.dtype, x.State.Step)))
        {
            var step = group.Key.Step;
            var bc1 = 1 - Math.Pow(beta1, step);
            var bc2 = 1 - Math.Pow(beta2, step);
            var scalars = new GefenScalars((float)beta2, (float)(1 - beta2), (float)(1 - beta1), (float)(1 - lr * Options.WeightDecay),
                (float)(1 / Math.Sqrt(bc2)), (float)Options.Eps, (float)(1 / bc1), (float)lr, Options.WeightDecay > 0);  // reciprocal in double, as torch's scalar division
            kernels.Gefen(group.Select(x => ((Tensor)Parameters[x.Index].Value, x.Grad, x.State.Codes, x.State.Magnitude, x.State.VMean,
                x.State.Period, x.State.ScaleRun)).ToList(), _codebook!, scalars);
        }
    }

    // The momentum scale of every element, shaped like the [n/P, P] view (P = 1: each run of D repeated).
    private static Tensor ScalesFor(State s) =>
        s.Period > 1 ? s.Magnitude : s.Magnitude.repeat_interleave(s.ScaleRun).view(-1, 1);

    private static long ScaleRunOf(long numel, long period) => period > 1 ? period : BlockPeriods.LargestDivisorAtMost(numel, PeriodOneScaleLimit);

    internal static ScalarType StateTypeFor(ScalarType gradType, GefenOptions options) =>
        options.Fp32State ? ScalarType.Float32 : gradType switch
        {
            ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16 => gradType,
            _ => throw new ArgumentException($"Gefen's state dtype is undefined for {gradType} gradients (float32, bfloat16 or float16)"),
        };

    internal static long ElementSize(ScalarType t) => t == ScalarType.Float32 ? 4 : 2;

    private State StateOf(int i, Tensor grad) =>
        _states[i] ?? CreateState(i, BlockPeriods.Infer(grad), StateTypeFor(grad.dtype, Options));

    private State CreateState(int i, long period, ScalarType stateType)
    {
        var p = Parameters[i].Value;
        var n = p.numel();
        if (period < 1 || n % period != 0)
            throw new OptimizerStateException($"period {period} does not divide '{Parameters[i].Name}' ({n} elements)");
        var run = ScaleRunOf(n, period);
        using var noGrad = no_grad();
        var state = new State(period, run,
            zeros([n / period, period], ScalarType.Byte, p.device).DetachFromDisposeScope(),
            zeros([n / run, 1], stateType, p.device).DetachFromDisposeScope(),
            zeros([n / period, 1], stateType, p.device).DetachFromDisposeScope());
        return _states[i] = state;
    }

    public override IReadOnlyDictionary<string, Tensor> StateDict() => GefenStateDict.Save(Parameters, _states, _codebook, _globalStep);

    public override void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        ThrowIfDisposed();
        var loaded = GefenStateDict.Load(state, Parameters, ParameterIndex, (i, period, type) => { _states[i]?.Dispose(); return CreateState(i, period, type); });
        if (loaded.Codebook is not null)
        {
            _codebook?.Dispose();
            _codebook = loaded.Codebook.DetachFromDisposeScope();
        }
        _globalStep = loaded.GlobalStep;
    }

    protected override void Dispose(bool disposing)
    {
        if (IsDisposed) return;
        if (disposing)
        {
            foreach (var s in _states) s?.Dispose();
            Array.Clear(_states);
            _codebook?.Dispose();
            _codebook = null;
        }
        base.Dispose(disposing);
    }
}
