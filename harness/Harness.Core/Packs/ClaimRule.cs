using Harness.Optimizers;

namespace Harness.Core.Packs;

/// <summary>
/// The <c>rule:</c> of a claim: <c>exact</c> (bytes), <c>ratio</c> with a relative <see cref="Tolerance"/>,
/// <c>ordering</c> with the <see cref="Expect"/>ed direction, or <c>gap</c> within <see cref="Delta"/>.
/// </summary>
public sealed record ClaimRule : IValidatable
{
    public RuleKind Kind { get; init; } = RuleKind.Exact;
    /// <summary>ratio: |measured / paper − 1| at most this.</summary>
    public double? Tolerance { get; init; }
    /// <summary>gap: |A − B| at most this (in the claim's unit).</summary>
    public double? Delta { get; init; }
    /// <summary>ordering: A less than B, or greater.</summary>
    public OrderingExpectation? Expect { get; init; }

    public IEnumerable<OptionProblem> Validate()
    {
        if (Kind == RuleKind.Ratio && Tolerance is not > 0) yield return new("tolerance", "rule ratio needs a tolerance > 0 (e.g. 0.1 for ±10 %)");
        if (Kind != RuleKind.Ratio && Tolerance is not null) yield return new("tolerance", $"only rule ratio takes a tolerance (this rule is {Name(Kind)})");
        if (Kind == RuleKind.Gap && Delta is not > 0) yield return new("delta", "rule gap needs a delta > 0");
        if (Kind != RuleKind.Gap && Delta is not null) yield return new("delta", $"only rule gap takes a delta (this rule is {Name(Kind)})");
        if (Kind == RuleKind.Ordering && Expect is null) yield return new("expect", "rule ordering needs expect: less or greater");
        if (Kind != RuleKind.Ordering && Expect is not null) yield return new("expect", $"only rule ordering takes expect (this rule is {Name(Kind)})");
    }

    /// <summary>The rule as the claims table spells it, e.g. <c>ratio ±10%</c>, <c>gap ≤ 0.05</c>, <c>ordering (less, 2-SE)</c>.</summary>
    public string Describe() => Kind switch
    {
        RuleKind.Exact => "exact",
        RuleKind.Ratio => FormattableString.Invariant($"ratio ±{Tolerance!.Value * 100:0.###}%"),
        RuleKind.Gap => FormattableString.Invariant($"gap ≤ {Delta!.Value:G4} (2-SE)"),
        _ => $"ordering ({Name(Expect!.Value)}, 2-SE)",
    };

    private static string Name(Enum value) => PackNaming.Of(value);
}
