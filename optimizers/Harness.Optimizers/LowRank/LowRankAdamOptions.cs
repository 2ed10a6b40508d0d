namespace Harness.Optimizers.LowRank;

/// <summary>
/// Options every low-rank Adam shares: the inner Adam (reference defaults: betas (0.9, 0.999), ε 1e-6,
/// no weight decay), the rank r and the scale α of the projected-back update. The defaults suit the
/// tiny models of the quickstart (hidden 128): r = 32 projects a quarter of the smaller dimension;
/// α = 0.25 is the papers' LLaMA setting.
/// </summary>
public abstract record LowRankAdamOptions : OptimizerOptions
{
    public IReadOnlyList<double> Betas { get; init; } = [0.9, 0.999];

    /// <summary>Added to the uncorrected √v; the reference code's default 1e-6 (the GaLore paper says 1e-8, but its runs never set it).</summary>
    public double Eps { get; init; } = 1e-6;

    /// <summary>Decoupled, applied after the update as <c>p ← p − lr·wd·p</c>.</summary>
    public double WeightDecay { get; init; }

    /// <summary>Rank r of the projection; a matrix with a smaller side s uses min(r, s), as the reference's SVD slice does.</summary>
    public int Rank { get; init; } = 32;

    /// <summary>Scale α applied to the projected-back update.</summary>
    public double Scale { get; init; } = 0.25;

    public override IEnumerable<OptionProblem> Validate()
    {
        foreach (var p in base.Validate().Concat(ValidateBetas(Betas)).Concat(Positive(Eps, "eps")).Concat(NonNegative(WeightDecay, "weight_decay")))
            yield return p;
        if (Rank <= 0) yield return new("rank", $"must be > 0 (got {Rank})");
        if (!(Scale > 0) || !double.IsFinite(Scale)) yield return new("scale", $"must be a finite number > 0 (got {Scale:R})");
    }
}
