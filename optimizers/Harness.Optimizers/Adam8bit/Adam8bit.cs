using TorchSharp;
using Harness.Optimizers.Kernels;
using Harness.Optimizers.Quantization;
using static TorchSharp.torch;

namespace Harness.Optimizers.Adam8bit;

/// <summary>Options of <see cref="Adam8bit"/> (bitsandbytes 0.43.1 <c>Adam8bit</c> defaults; B = 2048 as in 0.43.1 and the paper).</summary>
public sealed record Adam8bitOptions : OptimizerOptions
{
    public IReadOnlyList<double> Betas { get; init; } = [0.9, 0.999];
    public double Eps { get; init; } = 1e-8;
    /// <summary>Decoupled, applied after the update as the CUDA kernel does (bnb's <c>AdamW8bit</c> default is 1e-2).</summary>
    public double WeightDecay { get; init; }
    /// <summary>Elements per absmax block: a power of two in [64, 4096]; 2048 in bnb ≤ 0.43, 256 from 0.44.</summary>
    public int BlockSize { get; init; } = BlockwiseQuantization.DefaultBlockSize;
    /// <summary>Tensors with fewer elements keep fp32 states (bnb's <c>min_8bit_size</c>).</summary>
    [OptionKey("min_8bit_size")]
    public long Min8BitSize { get; init; } = Adam8bitMoments.DefaultMin8BitSize;
    /// <summary>
    /// Keep 32-bit state for <see cref="ParamRole.Embedding"/> parameters, as bitsandbytes recommends when
    /// the model has no StableEmbedding (<c>GlobalOptimManager.override_config(emb, "optim_bits", 32)</c>).
    /// Off by default, as in the reference's defaults; the paper's language models used StableEmbedding.
    /// </summary>
    [OptionKey("fp32_embedding")]
    public bool Fp32Embedding { get; init; }
    /// <summary>
    /// Keep 32-bit state for the <see cref="ParamRole.OutputHead"/> parameter (an untied LM head, as LLaMA's): its rows
    /// of tokens absent from a batch see the same zero-gradient steps as the embedding's. Off by default (bnb has no
    /// head override; a GPT-2 head is tied to the embedding and follows <see cref="Fp32Embedding"/>).
    /// </summary>
    [OptionKey("fp32_head")]
    public bool Fp32Head { get; init; }
    /// <summary><c>auto</c> (the fused CUDA kernel on CUDA, tensor ops elsewhere), <c>tensor-ops</c> or <c>cuda-fused</c>.</summary>
    public string Implementation { get; init; } = ImplementationChoice.Auto;

    public override IEnumerable<OptionProblem> Validate()
    {
        foreach (var p in base.Validate().Concat(ValidateBetas(Betas)).Concat(Positive(Eps, "eps")).Concat(NonNegative(WeightDecay, "weight_decay")))
            yield return p;
        if (!BlockwiseQuantization.IsValidBlockSize(BlockSize))
            yield return new("block_size", $"must be a power of two in [{BlockwiseQuantization.MinBlockSize}, {BlockwiseQuantization.MaxBlockSize}] (got {BlockSize})");
        if (Min8BitSize < 0) yield return new("min_8bit_size", $"must be >= 0 (got {Min8BitSize})");
        foreach (var p in ImplementationChoice.Validate(Implementation)) yield return p;
    }

    /// <summary>True when a tensor of <paramref name="numel"/> elements gets 8-bit states.</summary>
    public bool Quantizes(long numel) => numel >= Min8BitSize;

    /// <summary>
    /// True when this parameter gets 8-bit states: by size, unless the model asked for 32 bits
    /// (<see cref="NamedParameter.FullPrecisionState"/>, a stable embedding) or its role is kept in 32 bits
    /// (<see cref="Fp32Embedding"/>, <see cref="Fp32Head"/>).
    /// </summary>
    public bool Quantizes(NamedParameter p) => Quantizes(p.Value.numel()) && !p.FullPrecisionState
        && !(Fp32Embedding && p.Role == ParamRole.Embedding) && !(Fp32Head && p.Role == ParamRole.OutputHead);

    /// <summary>Exact state bytes of one tensor: 2 B/element + 2 × 4 B per block, or 8 B/element (fp32 m, v).</summary>
    public long StateBytes(long numel) => Adam8bitMoments.StateBytes(numel, Quantizes(numel), BlockSize);

    /// <summary>Exact state bytes of one parameter, its role included.</summary>
    public long StateBytes(NamedParameter p) => Adam8bitMoments.StateBytes(p.Value.numel(), Quantizes(p), BlockSize);
}

/// <summary>
/// 8-bit Adam with block-wise dynamic quantization of both moments. Dettmers, Lewis, Shleifer &amp;
/// Zettlemoyer, "8-bit Optimizers via Block-wise Quantization", ICLR 2022, arXiv 2110.02861. Reference code:
/// bitsandbytes (bitsandbytes-foundation/bitsandbytes) tag 0.43.1, <c>csrc/kernels.cu</c>
/// <c>kOptimizerStatic8bit2StateBlockwise</c> and <c>kOptimizer32bit2State</c>,
/// <c>bitsandbytes/optim/optimizer.py</c> <c>Optimizer2State</c> — the version GaLore and Q-GaLore pin.
/// </summary>
/// <remarks>
/// Per parameter, step t from 1, float32 arithmetic, per block b of B elements (g non-finite ⇒ its m, v are
/// reset to 0 and its p is not touched):
/// <code>
/// m = code1[s1]·absmax1[b];  m ← β1·m + (1 − β1)·g          (dequantize → update, signed map)
/// v = code2[s2]·absmax2[b];  v ← β2·v + (1 − β2)·g²         (unsigned map)
/// absmax1[b] = max|m|, absmax2[b] = max v                    (new absmax, over the block)
/// p ← p − η·(√(1−β2^t)/(1−β1^t)) · m / (√v + √(1−β2^t)·ε)    (= Adam with m̂, v̂; uses the unquantized m, v)
/// p ← p·(1 − η·λ)                                            (decoupled decay AFTER the update, as the kernel)
/// s1 = nearest(code1, m/absmax1[b]) with the sign fix; s2 = nearest(code2, v/absmax2[b])
/// </code>
/// Tensors with fewer than <c>min_8bit_size</c> elements use the kernel's 32-bit path: the same formulas on
/// fp32 m, v (no non-finite reset there, as in the reference). A partial last block reproduces the kernel's
/// padded lanes (code 128 for m, which can only raise absmax1 to β1·code1[128]·absmax1_old).
/// Paper variant: the paper and bnb ≥ 0.44 use B = 256 — set <c>block_size: 256</c>. Percentile clipping and
/// paging are not implemented (off by default in the reference).
/// Which setting reproduces what (README.md, "Instabilities", shows the failure they prevent: a zero-gradient step
/// on a row whose v quantized to code 0 divides m by c2·ε, steps of thousands × lr):
/// bitsandbytes' defaults (every tensor of ≥ <c>min_8bit_size</c> elements in 8 bits, embeddings included) = the
/// defaults here; bnb's advice for models without StableEmbedding (<c>override_config(emb, "optim_bits", 32)</c>) =
/// <c>fp32_embedding: true</c>, plus <c>fp32_head: true</c> for an untied head; the paper's language models
/// (StableEmbedding: xavier-uniform table, LayerNorm after it, its state in 32 bits) = the workload option
/// <c>stable_embedding: true</c> of <c>llama</c> and <c>gpt2</c>, which marks the table
/// <see cref="NamedParameter.FullPrecisionState"/>.
/// State: 1 B (m) + 1 B (v) per element + 2 × 4 B per block of B (= 2.0039 B/param at B = 2048), or
/// 8 B/param for small tensors. The two 256-entry code books (2 KiB, shared, constant) are not counted.
/// On CUDA the 8-bit tensors step in one multi-tensor kernel (<c>implementation: cuda-fused</c>): one CUDA
/// block per quantization block, the same float32 ops and the same nearest-code search, no temporaries.
/// FORGE (<c>step_mode: fused_backward</c>) steps row slabs (with the fused kernel when it is attached, else the
/// tensor ops), each slab rounded to whole absmax blocks (<see cref="SlabRowAlignment"/>); the result is the
/// whole-tensor step's.
/// </remarks>
public sealed class Adam8bit : ElementwiseOptimizer<Adam8bitOptions, Adam8bit.State>, IFusedKernelUser, ITileFusedLinearStep
{
    private readonly Adam8bitCodebooks _maps;
    private FusedKernels? _kernels;
    private Adam8bitKernelTables? _tables;

    public override string Implementation => ImplementationChoice.NameOf(_kernels);

    public void AttachKernels(FusedKernels? kernels, string status)
    {
        _kernels = ImplementationChoice.Resolve(Options.Implementation, kernels, status, Parameters, "adam8bit");
        if (_kernels is null) return;
        _tables ??= new Adam8bitKernelTables(_maps);
    }

    protected override bool FusedEnabled => _kernels is not null;

    protected override bool CanFuse(NamedParameter p, Tensor grad, State s) =>
        _kernels is { } k && k.Accepts(p.Value) && k.Accepts(grad, p.Value.dtype)
        && (s.IsQuantized
            ? k.Accepts(s.First, ScalarType.Byte) && k.Accepts(s.Second, ScalarType.Byte)
              && k.Accepts(s.Absmax1!, ScalarType.Float32) && k.Accepts(s.Absmax2!, ScalarType.Float32)
            : k.Accepts(s.First, ScalarType.Float32) && k.Accepts(s.Second, ScalarType.Float32));

    protected override void StepFused(IReadOnlyList<(NamedParameter Parameter, Tensor Grad, State State)> items, double lr)
    {
        var kernels = _kernels!;
        var (beta1, beta2, eps) = ((float)Options.Betas[0], (float)Options.Betas[1], (float)Options.Eps);
        var lrF = (float)lr;
        foreach (var group in items.GroupBy(x => (x.Parameter.Value.dtype, x.State.Step)))
        {
            var scalars = _tables!.Scalars(beta1, beta2, eps, lrF, (float)Options.WeightDecay, group.Key.Step, Options.BlockSize, Options.WeightDecay > 0);
            _tables.Launch(kernels, group.Select(x => ((Tensor)x.Parameter.Value, x.Grad, x.State.First, x.State.Second, x.State.Absmax1, x.State.Absmax2)).ToList(), scalars);
        }
    }

    /// <summary>
    /// FORGE with 8-bit state (<c>forge_state: int8</c>): the tensor-core tile kernel (<c>hk_forge_tc</c>) forms the weight
    /// gradient from bf16 operands and applies this optimizer's rule in its epilogue, the blockwise absmax exact (two
    /// GEMM passes). Needs the kernels, a quantized weight (numel ≥ min_8bit_size), columns a multiple of 128, rows a
    /// multiple of 8 and block_size ≥ 128.
    /// </summary>
    public string? TileUnavailableReason(NamedParameter weight)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (_kernels is not { } k)
            return Options.Implementation == ImplementationChoice.TensorOps ? "adam8bit runs implementation: tensor-ops" : "adam8bit has no fused kernels attached";
        if (!k.HasForgeTensorCore) return $"the kernel library {k.LibraryPath} has no tensor-core tile step (hk_forge_tc)";
        if (weight.Value.dim() != 2 || !k.Accepts(weight.Value))
            return $"'{weight.Name}' is not a contiguous float32 or bfloat16 matrix on the kernels' device ({k.DeviceType})";
        if (!Options.Quantizes(weight)) return $"'{weight.Name}' keeps 32-bit state (under min_8bit_size or full-precision role)";
        if (weight.Value.shape[1] % 128 != 0 || weight.Value.shape[0] % 8 != 0 || Options.BlockSize < 128)
            return $"'{weight.Name}' [{string.Join(",", weight.Value.shape)}]: the 8-bit tile step needs columns a multiple of 128, rows of 8 and block_size >= 128";
        return null;
    }

    public bool TryStepLinear(NamedParameter weight, Tensor x, Tensor dy, Tensor? pending, Tensor? clipScale, double learningRate, bool tensorCores = true)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(dy);
        if (!tensorCores || TileUnavailableReason(weight) is not null) return false;
        var (kernels, p) = (_kernels!, weight.Value);
        if (!kernels.AcceptsTensorCoreOperands(x, dy) || x.dim() != 2 || dy.dim() != 2
            || x.shape[1] != p.shape[1] || dy.shape[1] != p.shape[0] || dy.shape[0] != x.shape[0])
            return false;
        if (pending is not null && (!kernels.Accepts(pending, ScalarType.Float32) || !pending.shape.SequenceEqual(p.shape))) return false;
        if (clipScale is not null && (!kernels.Accepts(clipScale, ScalarType.Float32) || clipScale.numel() != 1)) return false;
        var state = StateFor(weight);
        if (!state.IsQuantized || !kernels.Accepts(state.First, ScalarType.Byte) || !kernels.Accepts(state.Second, ScalarType.Byte)
            || !kernels.Accepts(state.Absmax1!, ScalarType.Float32) || !kernels.Accepts(state.Absmax2!, ScalarType.Float32))
            return false;
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        // As AdamW's tile step: CUDA torch reads the fp32 coefficient as T when scaling a bf16 slab in place.
        var clip = clipScale is not null && p.dtype == ScalarType.BFloat16 && !kernels.IsEmulated
            ? clipScale.to(p.dtype).to(ScalarType.Float32) : clipScale;
        state.Step++; // once per step, as StepSlabs
        _tables ??= new Adam8bitKernelTables(_maps);
        var s = _tables.Scalars((float)Options.Betas[0], (float)Options.Betas[1], (float)Options.Eps, (float)learningRate, (float)Options.WeightDecay,
            state.Step, Options.BlockSize, Options.WeightDecay > 0);
        kernels.ForgeTensorCore(ForgeTileKind.Adam8bit, x, dy, pending, clip, p, state.First, state.Second, state.Absmax1, state.Absmax2,
            s.PackFloats(), s.PackInts(), [_maps.Signed, _maps.Unsigned, _tables.Mid1, _tables.Mid2], 0);
        return true;
    }

    public Adam8bit(IReadOnlyList<NamedParameter> parameters, Adam8bitOptions options) : base(parameters, options) =>
        // The code books live where the parameters do: the quantizer indexes them with device tensors.
        _maps = new Adam8bitCodebooks(parameters.Count > 0 ? parameters[0].Value.device : CPU);

    /// <summary>One parameter's state: uint8 codes + absmax (8-bit) or fp32 moments (small tensors).</summary>
    public sealed class State : ParameterState
    {
        private State(Tensor first, Tensor second, Tensor? absmax1, Tensor? absmax2) =>
            (First, Second, Absmax1, Absmax2) = (first, second, absmax1, absmax2);

        public static State Quantized(Tensor codes1, Tensor codes2, Tensor absmax1, Tensor absmax2) => new(codes1, codes2, absmax1, absmax2);
        public static State Full(Tensor m, Tensor v) => new(m, v, null, null);

        /// <summary>m: uint8 codes into the signed map, or fp32 values.</summary>
        public Tensor First { get; }
        /// <summary>v: uint8 codes into the unsigned map, or fp32 values.</summary>
        public Tensor Second { get; }
        public Tensor? Absmax1 { get; }
        public Tensor? Absmax2 { get; }
        public bool IsQuantized => Absmax1 is not null;

        public override IEnumerable<(string Name, Tensor Tensor)> Tensors => IsQuantized
            ? [("state1", First), ("state2", Second), ("absmax1", Absmax1!), ("absmax2", Absmax2!)]
            : [("exp_avg", First), ("exp_avg_sq", Second)];
    }

    public override string StateDtype => "uint8+float32";

    /// <summary>The signed code book (first moment); owned by the optimizer.</summary>
    public Tensor SignedMap => _maps.Signed;
    /// <summary>The unsigned code book (second moment); owned by the optimizer.</summary>
    public Tensor UnsignedMap => _maps.Unsigned;

    protected override State CreateState(NamedParameter p)
    {
        var (first, second, absmax1, absmax2) = Adam8bitMoments.Create(p.Value.shape, Options.Quantizes(p), Options.BlockSize, p.Value.device);
        return absmax1 is null ? State.Full(first, second) : State.Quantized(first, second, absmax1, absmax2!);
    }

    // Element-wise within each absmax block, so FORGE can step it slab by slab (bit-identical to the whole
    // step) provided no block is split between two slabs: the blocks tile the flattened tensor, so a slab of
    // rows must start on a block boundary, i.e. on a multiple of B / gcd(columns, B) rows.
    public override long SlabRowAlignment(NamedParameter p)
    {
        ArgumentNullException.ThrowIfNull(p);
        if (!Options.Quantizes(p) || p.Value.numel() == 0) return 1;
        var columns = p.Value.numel() / p.Value.shape[0];
        // B is a power of two, so gcd(columns, B) is the lowest set bit of columns, capped at B.
        return Options.BlockSize / Math.Min(Options.BlockSize, columns & -columns);
    }

    protected override State SliceState(State s, long start, long length)
    {
        if (!s.IsQuantized) return State.Full(s.First.narrow(0, start, length), s.Second.narrow(0, start, length));
        // The caller checked the slab is whole blocks (SlabRowAlignment), so its blocks are a contiguous run.
        var columns = s.First.numel() / s.First.shape[0];
        var (block, blocks) = (start * columns / Options.BlockSize, BlockwiseQuantization.BlockCount(length * columns, Options.BlockSize));
        return State.Quantized(s.First.narrow(0, start, length), s.Second.narrow(0, start, length),
            s.Absmax1!.narrow(0, block, blocks), s.Absmax2!.narrow(0, block, blocks));
    }

    protected override void Update(NamedParameter p, Tensor grad, State s, double lr)
    {
        // Scalars exactly as the kernel forms them: float32, powf, step_size = −lr·c2/c1 (inside the helper).
        var lrF = (float)lr;
        var decay = 1f - lrF * (float)Options.WeightDecay;
        var (delta, finite) = Adam8bitMoments.Step(s.First, s.Second, s.Absmax1, s.Absmax2, grad, _maps, Options.BlockSize,
            (float)Options.Betas[0], (float)Options.Betas[1], (float)Options.Eps, lrF, s.Step);

        // p ← T(p + step_size·(m / (√v + c2·ε))); then T(p·(1 − lr·wd)) when wd > 0.
        var param = p.Value;
        var p32 = param.reshape(-1).to(ScalarType.Float32);
        var updated = p32.add(delta).to(param.dtype);
        if (Options.WeightDecay > 0) updated = updated.to(ScalarType.Float32).mul_(decay).to(param.dtype);
        if (finite is not null) updated = updated.where(finite, param.reshape(-1));
        param.copy_(updated.reshape(param.shape));
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _maps.Dispose();
            _tables?.Dispose();
        }
        base.Dispose(disposing);
    }
}
