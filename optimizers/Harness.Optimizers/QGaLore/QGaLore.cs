using Harness.Optimizers.LowRank;
using Harness.Optimizers.Quantization;
using static TorchSharp.torch;

namespace Harness.Optimizers.QGaLore;

/// <summary>Options of <see cref="QGaLore"/> (<c>kind: qgalore</c>); keys as in Q-GaLore's <c>run_pretrain.py</c>.</summary>
public sealed record QGaLoreOptions : LowRankAdamOptions, IRunSeeded
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

    /// <summary>Keep projected weights on an INT8 grid (<c>--weight_quant</c>; simulated, see the remarks of <see cref="QGaLore"/>).</summary>
    public bool WeightQuant { get; init; } = true;

    /// <summary>Code width of the weights (<c>--weight_bits</c>, 8).</summary>
    public int WeightBits { get; init; } = 8;

    /// <summary>Flattened weight elements per scale/zero group (<c>--weight_group_size</c>, 256).</summary>
    public int WeightGroupSize { get; init; } = 256;

    /// <summary>Stochastic rounding when writing weights back (<c>--stochastic_round</c>); else round to nearest.</summary>
    public bool StochasticRound { get; init; } = true;

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
    }
}

/// <summary>
/// Q-GaLore: GaLore with an INT4 projection, layer-adaptive subspace refreshes and INT8 weights with
/// stochastic rounding. Zhang et al., "Q-GaLore: Quantized GaLore with INT4 Projection and
/// Layer-Adaptive Low-Rank Gradients", arXiv 2407.08296. Reference code: VITA-Group/Q-GaLore @5bd2f1c,
/// <c>q_galore_torch/q_galore_adamw8bit_simulate.py</c> (step, weight re-quantization) and
/// <c>q_galore_torch/q_galore_projector_simulate.py</c> (projector; the golden <c>qgalore_projector</c> trace).
/// </summary>
/// <remarks>
/// For a Matrix-role W (m×n), gradient G, 0-based step k = t − 1, r' = min(r, m, n), c2 = √(1−β2^t):
/// <code>
/// if no basis or k % T_layer == 0: basis ← top-r' singular vectors of G (right if m ≥ n, else left),
///     stored as group codes (proj_bits, proj_group_size); T_layer doubles per AdaptiveUpdateGap
/// R = project(G) with the dequantized basis
/// M ← β1·M + (1−β1)·R;  V ← β2·V + (1−β2)·R²
/// W' = W − lr·(c2/(1−β1^t))·α·project_back(M / (√V + ε·c2))     (= bnb Adam: m̂/(√v̂ + ε))
/// W' ← W' − lr·wd·W'
/// W ← dequant(quant_SR(W'))  per weight_group_size group, weight_bits   (if weight_quant and W' ≠ W)
/// </code>
/// Other parameters: the same Adam without projection or weight quantization.
/// Simulated INT8 (the reference's <c>--simulation</c> path): W stays an fp32 Parameter for the model, but
/// after every update it holds exactly the values its INT8 codes decode to; scales and zero points are
/// recomputed from W each step (as the reference does), so they are not state, and the codes are not
/// stored (no memory is saved here; the reference's real-INT8 path saves it). A step whose update is
/// exactly zero leaves W as it is (the reference re-quantizes anyway, which only matters for a weight not
/// yet on its grid). The rounding draws are float32 uniforms (the reference draws in the weight dtype) from a
/// generator seeded per (seed, parameter name, step): counter-based, so a checkpoint needs no RNG state.
/// Moments: fp32, not bnb 8-bit blockwise (issue 4 builds those); <see cref="Implementation"/> says so.
/// State bytes per Matrix parameter, s = min(m,n), L = max(m,n), b = element size, G = ⌈s·r'/proj_group_size⌉:
/// 2·r'·L·b (moments) + s·r' (codes) + 5·G (fp32 scales, uint8 zeros) + 4·s (top vector) + 24 + 8·queue_size;
/// without proj_quant 4·s·r' replaces s·r' + 5·G. Other parameters: 2·numel·b.
/// </remarks>
public sealed class QGaLore(IReadOnlyList<NamedParameter> parameters, QGaLoreOptions options)
    : PerParameterOptimizer<QGaLoreOptions, LowRankAdamState>(parameters, options)
{
    public override string Implementation => "tensor-ops (fp32 moments)";
    public override string StateDtype => "float32 moments, uint8 basis codes";

    /// <summary>The closed-form state size (the catalog's formula).</summary>
    public static long ExpectedStateBytes(IReadOnlyList<NamedParameter> parameters, QGaLoreOptions o) =>
        parameters.Sum(p =>
        {
            var b = p.Value.element_size();
            if (!IsProjected(p)) return 2 * p.Value.numel() * b;
            var (m, n) = (p.Value.shape[0], p.Value.shape[1]);
            var r = Math.Min(o.Rank, Math.Min(m, n));
            return 2 * r * Math.Max(m, n) * b + QuantizedSvdProjector.StateBytes(m, n, o.ProjectorSettings());
        });

    private static bool IsProjected(NamedParameter p) => p.Role == ParamRole.Matrix && p.Value.dim() == 2;

    protected override LowRankAdamState CreateState(NamedParameter p) =>
        new(IsProjected(p) ? new QuantizedSvdProjector(p.Value.shape[0], p.Value.shape[1], Options.ProjectorSettings(), p.Value.device) : null, p.Value);

    protected override void Update(NamedParameter p, Tensor grad, LowRankAdamState s, double lr)
    {
        var (beta1, beta2) = (Options.Betas[0], Options.Betas[1]);
        var c2 = Math.Sqrt(1 - Math.Pow(beta2, s.Step));
        var g = s.Projector is { } projector ? projector.Project(grad, s.Step - 1) : grad;
        // ε·c2 inside the shared transformers-style step gives bnb's m̂/(√v̂ + ε) exactly.
        var n = LowRankAdam.Direction(s.M, s.V, g, beta1, beta2, Options.Eps * c2);
        var update = s.Projector?.ProjectBack(n) ?? n;
        var stepSize = LowRankAdam.StepSize(lr, s.Step, beta1, beta2);
        var param = p.Value;
        if (s.Projector is null || !Options.WeightQuant)
        {
            LowRankAdam.Apply(param, update, stepSize, lr, Options.WeightDecay);
            return;
        }

        var updated = param.detach().clone();
        LowRankAdam.Apply(updated, update, stepSize, lr, Options.WeightDecay);
        var changed = updated.ne(param).any();
        using var generator = Options.StochasticRound ? new Generator(DrawSeed(p.Name, s.Step), CPU) : null;
        var onGrid = GroupQuantizer.FakeQuantize(updated, Options.WeightGroupSize, Options.WeightBits, generator);
        param.copy_(where(changed, onGrid, param));
    }

    /// <summary>The stochastic-rounding seed of one parameter at one step (SplitMix64 over seed, name, step).</summary>
    public ulong DrawSeed(string parameterName, long step)
    {
        var h = 14695981039346656037UL; // FNV-1a of the name: stable across processes, unlike string.GetHashCode
        foreach (var ch in parameterName) h = (h ^ ch) * 1099511628211UL;
        return Mix(Mix(Mix((ulong)Options.Seed) ^ h) ^ (ulong)step);
    }

    private static ulong Mix(ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}
