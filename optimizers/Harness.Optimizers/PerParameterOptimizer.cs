using static TorchSharp.torch;

namespace Harness.Optimizers;

/// <summary>
/// Base for optimizers whose update is a function of one parameter, its gradient and its own state.
/// It owns what every such optimizer needs and must not get wrong: <c>no_grad</c>, a dispose scope per
/// parameter update (temporaries never outlive the update), lazy state creation detached from any
/// caller scope, exact state bytes, state-dict save/load with shape checks, and the per-parameter entry
/// point used by the fused-backward driver. Element-wise rules derive from
/// <see cref="ElementwiseOptimizer{TOptions, TState}"/>, which adds the row-slab step. Validation, the name index, <c>ZeroGrad</c> and the disposal guard
/// are <see cref="OptimizerBase{TOptions}"/>'s.
/// </summary>
public abstract class PerParameterOptimizer<TOptions, TState> : OptimizerBase<TOptions>, IPerParameterStep
    where TOptions : OptimizerOptions
    where TState : ParameterState
{
    private readonly TState?[] _states;

    protected PerParameterOptimizer(IReadOnlyList<NamedParameter> parameters, TOptions options)
        : base(parameters, options) =>
        _states = new TState?[parameters.Count];

    public override string Implementation => "tensor-ops";
    public override string StateDtype => "float32";

    /// <summary>Creates the zero state of a parameter (called lazily, on its first update or on load).</summary>
    protected abstract TState CreateState(NamedParameter parameter);

    /// <summary>
    /// Applies the rule in place. Runs under <c>no_grad</c> inside a dispose scope; <paramref name="state"/>'s
    /// step counter has already been incremented.
    /// </summary>
    protected abstract void Update(NamedParameter parameter, Tensor grad, TState state, double learningRate);

    /// <summary>True when <see cref="StepFused"/> should take the parameters <see cref="CanFuse"/> accepts (a fused kernel is attached).</summary>
    protected virtual bool FusedEnabled => false;

    /// <summary>True when this parameter's update can go through <see cref="StepFused"/>.</summary>
    protected virtual bool CanFuse(NamedParameter parameter, Tensor grad, TState state) => false;

    /// <summary>
    /// Updates many parameters at once (a multi-tensor kernel launch). Runs under <c>no_grad</c>; each state's
    /// step counter has already been incremented. Must apply exactly the rule of <see cref="Update"/>.
    /// </summary>
    protected virtual void StepFused(IReadOnlyList<(NamedParameter Parameter, Tensor Grad, TState State)> items, double learningRate) =>
        throw new NotSupportedException($"{GetType().Name} has no fused step");

    public override void Step(double learningRate)
    {
        ThrowIfDisposed();
        using var noGrad = no_grad();
        if (FusedEnabled)
        {
            StepWithFused(learningRate);
            return;
        }
        for (var i = 0; i < Parameters.Count; i++)
        {
            // The .grad getter returns a new native handle each call; without this using, every step
            // leaked one handle per parameter (to the caller's scope or the finalizer).
            using var grad = Parameters[i].Value.grad;
            if (grad is null) continue;
            UpdateOne(i, grad, learningRate);
        }
    }

    private void StepWithFused(double learningRate)
    {
        var grads = new List<Tensor>(Parameters.Count);
        try
        {
            var fused = new List<(NamedParameter, Tensor, TState)>(Parameters.Count);
            for (var i = 0; i < Parameters.Count; i++)
            {
                var grad = Parameters[i].Value.grad;
                if (grad is null) continue;
                grads.Add(grad);
                var state = StateOf(i);
                if (CanFuse(Parameters[i], grad, state))
                {
                    state.Step++;
                    fused.Add((Parameters[i], grad, state));
                }
                else
                {
                    UpdateOne(i, grad, learningRate);
                }
            }
            if (fused.Count > 0) StepFused(fused, learningRate);
        }
        finally
        {
            foreach (var g in grads) g.Dispose();
        }
    }

    public void StepParameter(NamedParameter parameter, Tensor grad, double learningRate)
    {
        ThrowIfDisposed();
        var i = IndexOf(parameter);
        using var noGrad = no_grad();
        UpdateOne(i, grad, learningRate);
    }

    /// <summary>
    /// The state of a managed parameter (created on first use) for a step that goes around <see cref="Update"/> and
    /// <see cref="StepFused"/> (AdamW's tile-fused linear step); that step advances its step count itself.
    /// </summary>
    protected TState StateFor(NamedParameter parameter)
    {
        ThrowIfDisposed();
        return StateOf(IndexOf(parameter));
    }

    /// <summary>True when <paramref name="parameter"/>'s state exists (it is created on its first step).</summary>
    protected bool HasState(NamedParameter parameter) => _states[IndexOf(parameter)] is not null;

    private void UpdateOne(int i, Tensor grad, double learningRate)
    {
        var state = StateOf(i);
        state.Step++;
        using var scope = NewDisposeScope();
        Update(Parameters[i], grad, state, learningRate);
    }

    private TState StateOf(int i)
    {
        if (_states[i] is { } existing) return existing;
        TState created;
        using (no_grad())
            created = CreateState(Parameters[i]);
        // State must outlive whatever dispose scope the caller (a training step) has open.
        foreach (var (_, t) in created.Tensors) t.DetachFromDisposeScope();
        return _states[i] = created;
    }

    public override long StateBytes => _states.Sum(s => s?.Bytes ?? 0);

    public override IReadOnlyDictionary<string, Tensor> StateDict()
    {
        var dict = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        for (var i = 0; i < _states.Length; i++)
        {
            if (_states[i] is not { } s) continue;
            var name = Parameters[i].Name;
            dict[$"{name}/step"] = tensor(s.Step); // a fresh scalar, owned by the caller's dispose scope
            foreach (var (key, t) in s.Tensors) dict[$"{name}/{key}"] = t;
        }
        return dict;
    }

    public override void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        ThrowIfDisposed();
        var byParam = state.Keys.GroupBy(k => k[..Math.Max(0, k.LastIndexOf('/'))], StringComparer.Ordinal);
        foreach (var group in byParam)
            if (!ParameterIndex.ContainsKey(group.Key))
                throw new OptimizerStateException($"state dict has entries for unknown parameter '{group.Key}'");
        using var noGrad = no_grad();
        for (var i = 0; i < Parameters.Count; i++)
        {
            var name = Parameters[i].Name;
            if (!state.TryGetValue($"{name}/step", out var step)) continue;
            var s = StateOf(i);
            s.Step = step.item<long>();
            foreach (var (key, t) in s.Tensors)
            {
                if (!state.TryGetValue($"{name}/{key}", out var src))
                    throw new OptimizerStateException($"state dict lacks '{name}/{key}'");
                if (!src.shape.SequenceEqual(t.shape) || src.dtype != t.dtype)
                    throw new OptimizerStateException(
                        $"'{name}/{key}' is {src.dtype}[{string.Join(",", src.shape)}] in the state dict but {t.dtype}[{string.Join(",", t.shape)}] here");
                t.copy_(src);
            }
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (IsDisposed) return;
        if (disposing)
        {
            for (var i = 0; i < _states.Length; i++)
            {
                _states[i]?.Dispose();
                _states[i] = null;
            }
        }
        base.Dispose(disposing);
    }
}
