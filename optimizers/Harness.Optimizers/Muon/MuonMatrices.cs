using static TorchSharp.torch;

namespace Harness.Optimizers.Muon;

/// <summary>
/// The Muon half of <see cref="Muon"/>: momentum plus Newton–Schulz for the matrices it is given. The
/// per-parameter base supplies state, state dicts and scopes; its multi-tensor hook batches every group of
/// same-shaped matrices through one Newton–Schulz (batched matmuls), which gives the same result per matrix.
/// </summary>
internal sealed class MuonMatrices(IReadOnlyList<NamedParameter> parameters, MuonOptions options)
    : PerParameterOptimizer<MuonOptions, MuonMatrices.State>(parameters, options)
{
    public sealed class State(Tensor momentum) : ParameterState
    {
        public Tensor Momentum { get; } = momentum;
        public override IEnumerable<(string Name, Tensor Tensor)> Tensors => [("momentum_buffer", Momentum)];
    }

    public override string StateDtype => Parameters.Count == 0 ? "float32" : Parameters[0].Value.dtype.ToString().ToLowerInvariant();

    protected override State CreateState(NamedParameter p) => new(zeros_like(p.Value));

    protected override bool FusedEnabled => Options.BatchNewtonSchulz;

    protected override bool CanFuse(NamedParameter p, Tensor grad, State s) => true;

    protected override void Update(NamedParameter p, Tensor grad, State s, double lr)
    {
        var update = Orthogonalize(Direction(grad, s).unsqueeze(0));
        Apply(p.Value, update[0], lr);
    }

    protected override void StepFused(IReadOnlyList<(NamedParameter Parameter, Tensor Grad, State State)> items, double lr)
    {
        foreach (var group in items.GroupBy(x => (Shape: string.Join("x", AsMatrix(x.Parameter.Value).shape), x.Parameter.Value.dtype)))
        {
            using var scope = NewDisposeScope();
            var members = group.ToList();
            var updates = Orthogonalize(stack(members.Select(x => Direction(x.Grad, x.State)).ToList()));
            for (var i = 0; i < members.Count; i++) Apply(members[i].Parameter.Value, updates[i], lr);
        }
    }

    /// <summary>B ← μ·B + (1−μ)·G (as lerp, both references); the direction is μ·B + (1−μ)·G with Nesterov, else B.</summary>
    private Tensor Direction(Tensor grad, State s)
    {
        var mu = Options.Momentum;
        s.Momentum.lerp_(grad, 1 - mu);
        return AsMatrix(Options.Nesterov ? grad.lerp(s.Momentum, mu) : s.Momentum);
    }

    private Tensor Orthogonalize(Tensor batch) =>
        NewtonSchulz.Orthogonalize(batch, Options.NsCoefficients, Options.NsSteps, Options.Eps,
            Options.NsDtype switch
            {
                NewtonSchulzDtype.Float32 => ScalarType.Float32,
                NewtonSchulzDtype.Bfloat16 => ScalarType.BFloat16,
                _ => batch.device_type == TorchSharp.DeviceType.CUDA ? ScalarType.BFloat16 : ScalarType.Float32,
            });

    /// <summary>W ← W·(1 − η·λ), then W ← W − η·adjust(A, B)·O (the decay uses the unadjusted η, as both references).</summary>
    private void Apply(Tensor param, Tensor update, double lr)
    {
        var (rows, cols) = (param.shape[0], param.numel() / param.shape[0]);
        if (Options.WeightDecay != 0) param.mul_(1 - lr * Options.WeightDecay);
        param.add_(update.view(param.shape).to_type(param.dtype), alpha: -lr * Muon.LrFactor(Options.AdjustLr, rows, cols));
    }

    /// <summary>A conv-style weight [out, …] is orthogonalised as [out, rest], as <c>muon.py</c> does.</summary>
    private static Tensor AsMatrix(Tensor t) => t.dim() == 2 ? t : t.reshape(t.shape[0], -1);
}
