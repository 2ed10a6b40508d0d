using static TorchSharp.torch;

namespace Harness.Optimizers.AdamMini;

/// <summary>Options of <see cref="AdamMini"/> (the defaults of the reference's <c>Adam_mini</c>).</summary>
public sealed record AdamMiniOptions : OptimizerOptions
{
    public IReadOnlyList<double> Betas { get; init; } = [0.9, 0.999];
    /// <summary>The code's default 1e-8 (its docstring says 1e-6).</summary>
    public double Eps { get; init; } = 1e-8;
    /// <summary>Decoupled weight decay, not applied to Vector-role parameters (the reference skips norms and biases).</summary>
    public double WeightDecay { get; init; }
    /// <summary>
    /// Attention heads of the model: a query/key matrix W (rows × d) gets one second moment per block of d²/n_heads
    /// elements (per head when rows are heads × d/n_heads). The reference's default is 32; set the model's count.
    /// </summary>
    public int NHeads { get; init; } = 32;
    /// <summary>Name fragments of the query and key matrices (the reference's <c>wqk_names</c>); [] = per row like the other matrices.</summary>
    public IReadOnlyList<string> QueryKeyNames { get; init; } = ["k_proj", "q_proj", "wq", "wk", "query", "key"];
    /// <summary>Name fragments of Vector-role parameters that keep Adam's per-element v (the reference's <c>adam_block_names</c>).</summary>
    public IReadOnlyList<string> AdamBlockNames { get; init; } = ["bias"];

    public override IEnumerable<OptionProblem> Validate()
    {
        foreach (var p in base.Validate().Concat(ValidateBetas(Betas)).Concat(Positive(Eps, "eps")).Concat(NonNegative(WeightDecay, "weight_decay")))
            yield return p;
        if (NHeads < 1) yield return new("n_heads", $"must be >= 1 (got {NHeads})");
    }
}

/// <summary>
/// Adam-mini: Zhang, Chen, Li, Ding, Chen, Kingma, Ye, Luo, Sun, "Adam-mini: Use Fewer Learning Rates To Gain
/// More", ICLR 2025, arXiv 2406.16793. Reference code: zyushun/Adam-mini <c>adam_mini/adam_mini.py</c> (v1.1.1,
/// @402aadf), whose partition of a LLaMA this follows.
/// </summary>
/// <remarks>
/// Each parameter is cut into blocks b (rows of a [B, n] view), each with one second moment; step t, lr η:
/// <code>
/// v_b ← β2·v_b + (1−β2)·mean_{i∈b}(g_i²)
/// p ← p·(1 − η·λ)                              (not for Vector-role parameters)
/// m ← lerp(m, g, 1−β1)
/// p_i ← p_i − η·m_i / ((1−β1^t)·(√v_b/√(1−β2^t) + ε))
/// </code>
/// Blocks, as the reference partitions a LLaMA: embedding and output head per token row; query and key
/// matrices (by <c>query_key_names</c>) per block of d²/n_heads elements, d = the input width (one block per head);
/// every other Matrix (value, output projection, MLP) per output neuron (row); norm vectors one block for the whole
/// tensor; biases (by <c>adam_block_names</c>) per element, i.e. Adam. State: m in the parameter's dtype
/// (numel × element size) plus one value per block (rows, n_heads·rows/d, 1 or numel), so about 4 B/param in
/// fp32, half of AdamW. Differences from the reference, and why: roles, not names, pick embedding / head /
/// matrix / vector (names only tell the query and key matrices and biases apart, which roles cannot; the
/// reference also matches by name); a Matrix whose name matches no reference pattern gets per-row blocks (the
/// reference would give it one block); the per-element path uses the block formula (same values up to rounding).
/// </remarks>
public sealed class AdamMini(IReadOnlyList<NamedParameter> parameters, AdamMiniOptions options)
    : PerParameterOptimizer<AdamMiniOptions, AdamMini.State>(parameters, options)
{
    /// <summary>The number of second-moment blocks of a parameter.</summary>
    public static long Blocks(NamedParameter p, AdamMiniOptions o)
    {
        ArgumentNullException.ThrowIfNull(p);
        ArgumentNullException.ThrowIfNull(o);
        var t = p.Value;
        if (p.Role == ParamRole.Vector || t.dim() < 2)
            return o.AdamBlockNames.Any(n => p.Name.Contains(n, StringComparison.Ordinal)) ? t.numel() : 1;
        if (p.Role == ParamRole.Matrix && o.QueryKeyNames.Any(n => p.Name.Contains(n, StringComparison.Ordinal)))
        {
            var d = t.shape[^1];
            var headNumel = d * d / o.NHeads;
            if (d * d % o.NHeads != 0 || headNumel == 0 || t.numel() % headNumel != 0)
                throw new ArgumentException($"'{p.Name}' {string.Join("x", t.shape)}: {t.numel()} elements do not split into heads of d²/n_heads = {d}²/{o.NHeads} (set n_heads to the model's head count)");
            return t.numel() / headNumel;
        }
        return t.shape[0];
    }

    /// <summary>The closed-form state size: m plus one value per block (the catalog's formula).</summary>
    public static long ExpectedStateBytes(IReadOnlyList<NamedParameter> parameters, AdamMiniOptions o) =>
        parameters.Sum(p => (p.Value.numel() + Blocks(p, o)) * p.Value.element_size());

    public sealed class State(Tensor m, Tensor v) : ParameterState
    {
        public Tensor M { get; } = m;
        /// <summary>[blocks, 1]: one second moment per block.</summary>
        public Tensor V { get; } = v;
        public override IEnumerable<(string Name, Tensor Tensor)> Tensors => [("m", M), ("vmean", V)];
    }

    public override string StateDtype => Parameters.Count == 0 ? "float32" : Parameters[0].Value.dtype.ToString().ToLowerInvariant();

    protected override State CreateState(NamedParameter p) =>
        new(zeros_like(p.Value), zeros(Blocks(p, Options), 1, dtype: p.Value.dtype, device: p.Value.device));

    protected override void Update(NamedParameter p, Tensor grad, State s, double lr)
    {
        var (beta1, beta2) = (Options.Betas[0], Options.Betas[1]);
        var param = p.Value;
        var blocks = s.V.shape[0];
        var g = grad.reshape(blocks, -1);
        s.V.mul_(beta2).add_((g * g).mean([1], keepdim: true), alpha: 1 - beta2);
        if (Options.WeightDecay != 0 && p.Role != ParamRole.Vector) param.mul_(1 - lr * Options.WeightDecay);
        s.M.lerp_(grad, 1 - beta1);
        var biasCorrection1 = 1 - Math.Pow(beta1, s.Step);
        var biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(beta2, s.Step));
        var h = s.V.sqrt().div_(biasCorrection2Sqrt).add_(Options.Eps);
        var stepSize = h.reciprocal_().mul_(1 / biasCorrection1);
        param.add_((s.M.reshape(blocks, -1) * stepSize).view(param.shape), alpha: -lr);
    }
}
