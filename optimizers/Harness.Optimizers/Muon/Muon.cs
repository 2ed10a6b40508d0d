using Harness.Optimizers.AdamW;
using static TorchSharp.torch;

namespace Harness.Optimizers.Muon;

/// <summary>Options of <see cref="Muon"/>: the Muon part (defaults of <c>muon.py</c>) and its AdamW part (<c>adam_*</c>).</summary>
public sealed record MuonOptions : OptimizerOptions
{
    /// <summary>Muon's lr (<c>muon.py</c>'s default 0.02; <c>torch.optim.Muon</c>'s is 1e-3), in units of spectral norm per step.</summary>
    public MuonOptions() => Lr = 0.02;

    public double Momentum { get; init; } = 0.95;
    public bool Nesterov { get; init; } = true;
    public int NsSteps { get; init; } = 5;
    public IReadOnlyList<double> NsCoefficients { get; init; } = NewtonSchulz.QuinticCoefficients;
    /// <summary>Lower bound of the Frobenius norm the Newton–Schulz input is divided by (torch's <c>eps</c>).</summary>
    public double Eps { get; init; } = 1e-7;
    public NewtonSchulzDtype NsDtype { get; init; } = NewtonSchulzDtype.Auto;
    public MuonAdjustLr AdjustLr { get; init; } = MuonAdjustLr.Original;
    /// <summary>Decoupled weight decay of the matrices (<c>muon.py</c>: 0; <c>torch.optim.Muon</c>: 0.1).</summary>
    public double WeightDecay { get; init; }
    /// <summary>Run each group of same-shaped matrices through one batched Newton–Schulz (same result, fewer launches).</summary>
    public bool BatchNewtonSchulz { get; init; } = true;

    /// <summary>Peak lr of the AdamW part; the schedule scales it as it scales <c>lr</c>.</summary>
    public double AdamLr { get; init; } = 3e-3;
    public IReadOnlyList<double> AdamBetas { get; init; } = [0.9, 0.95];
    public double AdamEps { get; init; } = 1e-10;
    public double AdamWeightDecay { get; init; }

    public override IEnumerable<OptionProblem> Validate()
    {
        foreach (var p in base.Validate().Concat(NonNegative(WeightDecay, "weight_decay")).Concat(Positive(Eps, "eps"))
                     .Concat(Positive(AdamLr, "adam_lr")).Concat(ValidateBetas(AdamBetas, "adam_betas")).Concat(Positive(AdamEps, "adam_eps"))
                     .Concat(NonNegative(AdamWeightDecay, "adam_weight_decay")))
            yield return p;
        if (!(Momentum >= 0 && Momentum < 1)) yield return new("momentum", $"must be in [0, 1) (got {Momentum:R})");
        if (NsSteps is < 1 or >= 100) yield return new("ns_steps", $"must be in [1, 99] (got {NsSteps})");
        if (NsCoefficients.Count != 3) yield return new("ns_coefficients", $"must have exactly 3 values (a, b, c) (got {NsCoefficients.Count})");
    }

    internal AdamWOptions AdamPart => new() { Lr = AdamLr, Betas = AdamBetas, Eps = AdamEps, WeightDecay = AdamWeightDecay };
}

/// <summary>
/// Muon, MomentUm Orthogonalized by Newton–Schulz: Jordan, Jin, Boza, You, Cesista, Newhouse, Bernstein,
/// "Muon: An optimizer for hidden layers in neural networks" (blog post, 2024; no arXiv id; the scaled-up study
/// is Liu et al., "Muon is Scalable for LLM Training", arXiv 2502.16982). Reference code: KellerJordan/Muon
/// <c>muon.py</c> @00ba60d (<c>SingleDeviceMuonWithAuxAdam</c>), and <c>torch.optim.Muon</c> (PyTorch ≥ 2.9,
/// <c>torch/optim/_muon.py</c> @098e03f), whose definition the golden-trace script records.
/// </summary>
/// <remarks>
/// Each 2-D Matrix-role parameter W (A×B; a higher-rank one viewed as [A, rest]) with gradient G, lr η:
/// <code>
/// B ← μ·B + (1−μ)·G                        (lerp; μ = momentum)
/// U = μ·B + (1−μ)·G  (nesterov)  or  B
/// X = U/max(‖U‖_F, ε), on Uᵀ if A > B, in ns_dtype (auto: bf16 on CUDA, fp32 on CPU);  5 times: S = X·Xᵀ;  X ← a·X + (b·S + c·S·S)·X
///                                          (a, b, c) = (3.4445, −4.7750, 2.0315); transposed back: O
/// W ← W·(1 − η·λ)
/// W ← W − η·f(A, B)·O                      f = √max(1, A/B) (original) or 0.2·√max(A, B) (match_rms_adamw)
/// </code>
/// Vectors, the embedding and the output head are stepped by <see cref="AdamW.AdamW"/> (composition), as the
/// authors prescribe, with lr η·adam_lr/lr, betas (0.9, 0.95), ε 1e-10 (<c>muon.py</c>'s auxiliary Adam).
/// State: one momentum buffer per matrix (numel × element size, 4 B/param in fp32), 2 × numel × element size
/// for the AdamW part. Differences from the references, and why:
/// <list type="bullet">
/// <item>The iteration divides by max(‖U‖, ε) as torch does (<c>muon.py</c>: ‖U‖ + 1e-7): equal to within 1e-7 relative.</item>
/// <item>Newton–Schulz runs in bf16 on CUDA, as both references, and in fp32 on the CPU, where bf16 matmuls are
/// emulated and made a tiny-LLaMA step 4× slower (<c>ns_dtype: auto</c>); <c>bfloat16</c> and <c>float32</c> force one.</item>
/// <item>adam_lr defaults to 3e-3 (<c>muon.py</c>'s auxiliary default is 3e-4 and its nanoGPT recipe 0.04–0.6 per
/// group): the harness's AdamW baseline lr for small LLaMAs, so <c>kind: muon</c> alone trains sensibly.</item>
/// <item>Same-shaped matrices go through one batched Newton–Schulz (<c>batch_newton_schulz</c>), as <c>muon.py</c>'s
/// batched kernel allows; the per-matrix result is the same up to matmul rounding.</item>
/// </list>
/// </remarks>
public sealed class Muon : IOptimizer, IPerParameterStep
{
    private readonly MuonMatrices _muon;
    private readonly AdamW.AdamW _adam;
    private readonly HashSet<string> _muonNames;
    private bool _disposed;

    public Muon(IReadOnlyList<NamedParameter> parameters, MuonOptions options)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        Parameters = parameters;
        var muon = parameters.Where(UsesMuon).ToList();
        _muonNames = muon.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
        _muon = new MuonMatrices(muon, options); // validates the options
        _adam = new AdamW.AdamW(parameters.Where(p => !_muonNames.Contains(p.Name)).ToList(), options.AdamPart);
    }

    public MuonOptions Options { get; }
    public IReadOnlyList<NamedParameter> Parameters { get; }
    public string Implementation => "tensor-ops";
    public string StateDtype => _adam.StateDtype;
    public long StateBytes => _muon.StateBytes + _adam.StateBytes;

    /// <summary>Whether Muon steps a parameter (Matrix role, at least 2-D); everything else goes to AdamW.</summary>
    public static bool UsesMuon(NamedParameter p) => p.Role == ParamRole.Matrix && p.Value.dim() >= 2;

    /// <summary>The shape factor f(A, B) on the lr of an A×B matrix.</summary>
    public static double LrFactor(MuonAdjustLr adjust, long rows, long cols) => adjust switch
    {
        MuonAdjustLr.MatchRmsAdamw => 0.2 * Math.Sqrt(Math.Max(rows, cols)),
        _ => Math.Sqrt(Math.Max(1.0, (double)rows / cols)),
    };

    private double AdamLr(double learningRate) => learningRate * Options.AdamLr / Options.Lr;

    public void Step(double learningRate)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _muon.Step(learningRate);
        _adam.Step(AdamLr(learningRate));
    }

    public void StepParameter(NamedParameter parameter, Tensor grad, double learningRate)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(parameter);
        if (_muonNames.Contains(parameter.Name)) _muon.StepParameter(parameter, grad, learningRate);
        else _adam.StepParameter(parameter, grad, AdamLr(learningRate));
    }

    public void ZeroGrad()
    {
        _muon.ZeroGrad();
        _adam.ZeroGrad();
    }

    public IReadOnlyDictionary<string, Tensor> StateDict() =>
        _muon.StateDict().Concat(_adam.StateDict()).ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);

    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var muon = state.Where(e => _muonNames.Contains(e.Key[..Math.Max(0, e.Key.LastIndexOf('/'))]));
        _muon.LoadStateDict(muon.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal));
        _adam.LoadStateDict(state.Except(muon).ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal));
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _muon.Dispose();
        _adam.Dispose();
    }
}
