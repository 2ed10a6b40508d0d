using Harness.Optimizers;

namespace Harness.Core.Packs;

/// <summary>
/// The <c>measure:</c> of a claim: a metric of configuration <see cref="Of"/> (an optimizer label of the claim's
/// experiment), optionally against configuration <see cref="Versus"/>, each side divided by its parameter count
/// when <see cref="PerParam"/>, the result multiplied by <see cref="Scale"/> (a unit conversion, e.g. bytes per
/// parameter to GiB per 1e9 parameters).
/// </summary>
public sealed record ClaimMeasure : IValidatable
{
    public ClaimMetric Metric { get; init; } = ClaimMetric.FinalEvalLoss;
    public string Of { get; init; } = "";
    public string? Versus { get; init; }
    public MeasureOp Op { get; init; } = MeasureOp.Value;
    public bool PerParam { get; init; }
    public double Scale { get; init; } = 1.0;

    public IEnumerable<OptionProblem> Validate()
    {
        if (Of.Length == 0) yield return new("of", "missing required key 'of' (the optimizer label measured)");
        if (Op == MeasureOp.Value && Versus is not null) yield return new("versus", "op value measures 'of' alone; remove 'versus' or use ratio, difference or saved");
        if (Op != MeasureOp.Value && Versus is null) yield return new("versus", $"op {Op.ToString().ToLowerInvariant()} compares two configurations: 'versus' is required");
        if (Scale == 0) yield return new("scale", "must not be 0");
        if (PerParam && Metric == ClaimMetric.ParamCount) yield return new("per_param", "param_count per parameter is 1; drop per_param");
    }
}
