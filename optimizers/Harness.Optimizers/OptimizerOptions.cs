namespace Harness.Optimizers;

/// <summary>
/// Base of every optimizer's options record. YAML binds to the <c>init</c> properties (snake_case keys);
/// <see cref="Validate"/> reports every problem at once, each naming its key, so the config loader can
/// point at the exact line.
/// </summary>
public abstract record OptimizerOptions : IValidatable
{
    /// <summary>Peak learning rate; the schedule scales it per step.</summary>
    public double Lr { get; init; } = 1e-3;

    /// <summary>Every problem with these options; empty when valid. Overrides must include the base problems.</summary>
    public virtual IEnumerable<OptionProblem> Validate()
    {
        if (!(Lr > 0)) yield return new("lr", $"must be > 0 (got {Lr:R})");
    }

    /// <summary>Checks a pair of Adam-style betas: two values, each in [0, 1).</summary>
    protected static IEnumerable<OptionProblem> ValidateBetas(IReadOnlyList<double> betas, string key = "betas")
    {
        if (betas.Count != 2)
        {
            yield return new(key, $"must have exactly 2 values (got {betas.Count})");
            yield break;
        }
        for (var i = 0; i < 2; i++)
            if (!(betas[i] >= 0 && betas[i] < 1))
                yield return new($"{key}[{i}]", $"must be in [0, 1) (got {betas[i]:R})");
    }

    /// <summary>A non-negative check (weight decay and friends).</summary>
    protected static IEnumerable<OptionProblem> NonNegative(double value, string key)
    {
        if (!(value >= 0)) yield return new(key, $"must be >= 0 (got {value:R})");
    }

    /// <summary>A strictly positive check (eps and friends).</summary>
    protected static IEnumerable<OptionProblem> Positive(double value, string key)
    {
        if (!(value > 0)) yield return new(key, $"must be > 0 (got {value:R})");
    }
}
