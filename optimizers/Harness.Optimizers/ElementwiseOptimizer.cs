using static TorchSharp.torch;

namespace Harness.Optimizers;

/// <summary>
/// Base of the element-wise rules (each output element depends only on the same element of the parameter,
/// gradient and state): they can step a weight one row slab of its gradient at a time (<see cref="ISlabStep"/>,
/// FORGE). Deriving from it is how an optimizer has the slab step; its catalog line then carries the
/// <see cref="OptimizerTraits.SlabStep"/> trait, which the conformance tests tie to <see cref="ISlabStep"/>.
/// </summary>
public abstract class ElementwiseOptimizer<TOptions, TState>(IReadOnlyList<NamedParameter> parameters, TOptions options)
    : PerParameterOptimizer<TOptions, TState>(parameters, options), ISlabStep
    where TOptions : OptimizerOptions
    where TState : ParameterState
{
    /// <summary>Row granularity of slab boundaries (<see cref="ISlabStep.SlabRowAlignment"/>); 1 unless the state is stored in blocks.</summary>
    public virtual long SlabRowAlignment(NamedParameter parameter) => 1;

    /// <summary>A state whose tensors are views of rows [start, start + length) of <paramref name="state"/>'s.</summary>
    protected abstract TState SliceState(TState state, long start, long length);

    public void StepSlabs(NamedParameter parameter, IEnumerable<GradientSlab> slabs, double learningRate)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(parameter);
        ArgumentNullException.ThrowIfNull(slabs);
        var full = Parameters[IndexOf(parameter)];
        using var noGrad = no_grad();
        var state = StateFor(full);
        state.Step++; // once per step, however many slabs follow
        var align = SlabRowAlignment(full);
        using var slab = slabs.GetEnumerator();
        while (true)
        {
            // The slab's gradient is produced by MoveNext inside this scope, so it dies with the update.
            using var scope = NewDisposeScope();
            if (!slab.MoveNext()) break;
            var (start, grad) = slab.Current;
            var rows = grad.shape[0];
            if (start % align != 0 || ((start + rows) % align != 0 && start + rows != full.Value.shape[0]))
                throw new ArgumentException($"slab rows [{start}, {start + rows}) of '{full.Name}' are not on multiples of {align} rows, which {GetType().Name}'s state needs", nameof(slabs));
            // A Parameter aliasing the rows (no copy): Update sees a parameter of the slab's shape.
            var view = new TorchSharp.Modules.Parameter(full.Value.narrow(0, start, rows), requires_grad: false);
            var sliced = SliceState(state, start, rows);
            sliced.Step = state.Step;
            var slabParameter = full with { Value = view };
            // Row slabs of contiguous tensors are contiguous, so the fused kernel (one launch) takes them when
            // it is attached; otherwise the tensor-ops rule.
            if (FusedEnabled && CanFuse(slabParameter, grad, sliced)) StepFused([(slabParameter, grad, sliced)], learningRate);
            else Update(slabParameter, grad, sliced, learningRate);
        }
    }
}
