using Harness.Optimizers.Kernels;
using Harness.Optimizers.LowRank;
using Harness.Optimizers.Quantization;
using static TorchSharp.torch;

namespace Harness.Optimizers.QGaLore;

/// <summary>Options of <see cref="QGaLore"/> (<c>kind: qgalore</c>); keys as in Q-GaLore's <c>run_pretrain.py</c>.</summary>
public sealed record QGaLoreOptions : LowRankAdamOptions, IRunSeeded, IQuantizedWeightOptions
{
    /// <summary>The reference scripts' inner Adam: betas (0.9, 0.95) (<c>--beta2</c> default), bnb's ε 1e-8.</summary>
    public QGaLoreOptions()
    {
        Betas = [0.9, 0.95];
        Eps = 1e-8;
    }

    /// <summary>Initial refresh gap T (the scripts use 200 for 60M+ models; 50 suits the tiny quickstart models).</summary>
    public int UpdateProjGap { get; init; } = 50;

    /// <summary>Quantize the projection basis (<c>--proj_quant</c>).</summary>
    public bool ProjQuant { get; init; } = true;

    /// <summary>Code width of the basis (<c>--proj_bits</c>, 4).</summary>
    public int ProjBits { get; init; } = 4;

    /// <summary>Flattened basis elements per scale/zero group (<c>--proj_group_size</c>, 256).</summary>
    public int ProjGroupSize { get; init; } = 256;

    /// <summary>The gap grows when the mean of the queued cosines is at least this (0.4).</summary>
    public double CosThreshold { get; init; } = 0.4;

    /// <summary>Gap growth factor (2).</summary>
    public double GammaProj { get; init; } = 2;

    /// <summary>Number of successive top-vector cosines averaged (5).</summary>
    public int QueueSize { get; init; } = 5;

    /// <summary>Keep projected weights in INT8 (<c>--weight_quant</c>); where, says <see cref="WeightStorage"/>.</summary>
    public bool WeightQuant { get; init; } = true;

    /// <summary><c>int8</c>: the model stores the codes (the reference's default); <c>simulated</c>: fp32 weights on the grid (its <c>--simulation</c>).</summary>
    public QGaLoreWeightStorage WeightStorage { get; init; } = QGaLoreWeightStorage.Int8;

    public QuantizedWeightFormat? StoredWeightFormat =>
        WeightQuant && WeightStorage == QGaLoreWeightStorage.Int8 ? new QuantizedWeightFormat(WeightGroupSize, WeightBits) : null;

    /// <summary>Code width of the weights (<c>--weight_bits</c>, 8).</summary>
    public int WeightBits { get; init; } = 8;

    /// <summary>Flattened weight elements per scale/zero group (<c>--weight_group_size</c>, 256).</summary>
    public int WeightGroupSize { get; init; } = 256;

    /// <summary>Stochastic rounding when writing weights back (<c>--stochastic_round</c>); else round to nearest.</summary>
    public bool StochasticRound { get; init; } = true;

    /// <summary>Moment storage: <c>int8</c> (bnb AdamW8bit, the reference) or <c>fp32</c>.</summary>
    public QGaLoreMoments Moments { get; init; } = QGaLoreMoments.Int8;

    /// <summary>
    /// <c>tensor-ops</c>: the reference path (rounding draws from a CPU generator per matrix and step, copied to the
    /// device; whole-matrix re-quantization; the tensor-ops 8-bit update). <c>batched</c>: no host round trip and no CPU
    /// work in the step: same-shaped matrices project in one bmm (refreshes per matrix, a batched SVD for those due
    /// together), rounding draws from <see cref="CounterUniform"/> on the weight's device, re-quantization tile by
    /// tile (<see cref="TiledRequantizer"/>). <c>auto</c> (default) = batched, with the 8-bit moments of every parameter in
    /// one multi-tensor launch of the fused 8-bit Adam kernel where it is attached and the parameters are on CUDA;
    /// <c>cuda-fused</c> = the same, the kernel required (it needs <c>moments: int8</c>).
    /// </summary>
    public string Implementation { get; init; } = StepImplementation.Auto;

    /// <summary>Elements per absmax block of the 8-bit moments (bnb 0.43.1: 2048).</summary>
    public int BlockSize { get; init; } = BlockwiseQuantization.DefaultBlockSize;

    /// <summary>Moment tensors with fewer elements stay fp32 under <c>moments: int8</c> (bnb's <c>min_8bit_size</c>).</summary>
    [OptionKey("min_8bit_size")]
    public long Min8BitSize { get; init; } = Adam8bitMoments.DefaultMin8BitSize;

    /// <summary>True when a moment tensor of <paramref name="numel"/> elements gets 8-bit codes.</summary>
    public bool Quantizes(long numel) => Moments == QGaLoreMoments.Int8 && numel >= Min8BitSize;

    /// <summary>Seed of the rounding draws; the runner adds the run's seed.</summary>
    public long Seed { get; init; }

    public OptimizerOptions WithRunSeed(int runSeed) => this with { Seed = Seed + runSeed };

    /// <summary>The projector settings these options describe.</summary>
    public QuantizedProjectorSettings ProjectorSettings() => new(Rank, UpdateProjGap, Scale, ProjQuant, ProjBits, ProjGroupSize, CosThreshold, GammaProj, QueueSize);

    public override IEnumerable<OptionProblem> Validate()
    {
        foreach (var p in base.Validate()) yield return p;
        if (UpdateProjGap <= 0) yield return new("update_proj_gap", $"must be > 0 (got {UpdateProjGap})");
        if (!GroupQuantizer.IsSupported(ProjBits)) yield return new("proj_bits", $"must be in {GroupQuantizer.MinBits}..{GroupQuantizer.MaxBits} (got {ProjBits})");
        if (ProjGroupSize <= 0) yield return new("proj_group_size", $"must be > 0 (got {ProjGroupSize})");
        if (!(CosThreshold is >= -1 and <= 1)) yield return new("cos_threshold", $"must be in [-1, 1] (got {CosThreshold:R})");
        if (!(GammaProj >= 1) || !double.IsFinite(GammaProj)) yield return new("gamma_proj", $"must be a finite number >= 1 (got {GammaProj:R})");
        if (QueueSize <= 0) yield return new("queue_size", $"must be > 0 (got {QueueSize})");
        if (!GroupQuantizer.IsSupported(WeightBits)) yield return new("weight_bits", $"must be in {GroupQuantizer.MinBits}..{GroupQuantizer.MaxBits} (got {WeightBits})");
        if (WeightGroupSize <= 0) yield return new("weight_group_size", $"must be > 0 (got {WeightGroupSize})");
        if (!Enum.IsDefined(WeightStorage)) yield return new("weight_storage", $"must be int8 or simulated (got {WeightStorage})");
        if (!Enum.IsDefined(Moments)) yield return new("moments", $"must be int8 or fp32 (got {Moments})");
        if (!BlockwiseQuantization.IsValidBlockSize(BlockSize))
            yield return new("block_size", $"must be a power of two in [{BlockwiseQuantization.MinBlockSize}, {BlockwiseQuantization.MaxBlockSize}] (got {BlockSize})");
        if (Min8BitSize < 0) yield return new("min_8bit_size", $"must be >= 0 (got {Min8BitSize})");
        foreach (var p in StepImplementation.Validate(Implementation, fusedKernel: true)) yield return p;
        if (Implementation == StepImplementation.CudaFused && Moments != QGaLoreMoments.Int8)
            yield return new("implementation", "cuda-fused runs the fused 8-bit Adam kernel, which needs moments: int8");
    }
}
