using static TorchSharp.torch;

namespace Harness.Optimizers;

/// <summary>
/// What every optimizer repeats, once: options validated on construction (every problem in one message), the
/// parameters indexed by name (duplicates refused), <see cref="ZeroGrad"/>, and disposal guarded against reuse.
/// Subclasses supply the step, the state and its (de)serialisation; <see cref="PerParameterOptimizer{TOptions, TState}"/>
/// is the base of the per-parameter rules, Gefen and SWAN derive from this one directly.
/// </summary>
public abstract class OptimizerBase<TOptions> : IOptimizer
    where TOptions : OptimizerOptions
{
    private readonly Dictionary<string, int> _index;

    protected OptimizerBase(IReadOnlyList<NamedParameter> parameters, TOptions options)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(options);
        var problems = options.Validate().ToList();
        if (problems.Count > 0)
            throw new ArgumentException(string.Join("; ", problems.Select(p => $"{p.Key}: {p.Message}")), nameof(options));
        Parameters = parameters;
        Options = options;
        _index = new Dictionary<string, int>(parameters.Count, StringComparer.Ordinal);
        for (var i = 0; i < parameters.Count; i++)
            if (!_index.TryAdd(parameters[i].Name, i))
                throw new ArgumentException($"duplicate parameter name '{parameters[i].Name}'", nameof(parameters));
    }

    public IReadOnlyList<NamedParameter> Parameters { get; }
    public TOptions Options { get; }

    public abstract string Implementation { get; }
    public abstract string StateDtype { get; }
    public abstract long StateBytes { get; }
    public abstract void Step(double learningRate);
    public abstract IReadOnlyDictionary<string, Tensor> StateDict();
    public abstract void LoadStateDict(IReadOnlyDictionary<string, Tensor> state);

    /// <summary>Each managed parameter's position in <see cref="Parameters"/>, by name.</summary>
    protected IReadOnlyDictionary<string, int> ParameterIndex => _index;

    /// <summary>The position of a managed parameter; throws for one this optimizer does not manage.</summary>
    protected int IndexOf(NamedParameter parameter) =>
        _index.TryGetValue(parameter.Name, out var i)
            ? i
            : throw new ArgumentException($"parameter '{parameter.Name}' is not managed by this optimizer", nameof(parameter));

    /// <summary>True once <see cref="Dispose()"/> ran; stepping or loading then throws.</summary>
    protected bool IsDisposed { get; private set; }

    protected void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(IsDisposed, this);

    /// <summary>Drops every parameter's gradient (set to none and its tensor disposed).</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters)
        {
            var g = p.Value.grad;
            if (g is null) continue;
            p.Value.grad = null;
            g.Dispose();
        }
    }

    /// <summary>Releases the state (<paramref name="disposing"/>: from <see cref="Dispose()"/>); overrides call the base last.</summary>
    protected virtual void Dispose(bool disposing) => IsDisposed = true;

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }
}
