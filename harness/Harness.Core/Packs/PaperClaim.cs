using Harness.Optimizers;

namespace Harness.Core.Packs;

/// <summary>
/// One claim of a paper as a pack states it: what the paper says (<see cref="Statement"/>, its value and unit,
/// where it says it), which experiment of the pack measures it, how (<see cref="Measure"/>) and how the verdict
/// is decided (<see cref="Rule"/>). <see cref="Needs"/> names <see cref="HarnessFeatures"/> it waits on (INT8 weight
/// storage, ...): while one is not available the claim is planned as <c>not run: needs ...</c>, never dropped.
/// </summary>
public sealed record PaperClaim : IValidatable
{
    public string Id { get; init; } = "";
    public string Statement { get; init; } = "";
    public double PaperValue { get; init; }
    public string Unit { get; init; } = "";
    /// <summary>Table or figure (and section) of the paper, or the reference code's file.</summary>
    public string Source { get; init; } = "";
    public string Url { get; init; } = "";
    public ClaimKind Kind { get; init; } = ClaimKind.Quality;
    /// <summary>The <c>id</c> of the pack experiment that measures it.</summary>
    public string Experiment { get; init; } = "";
    public ClaimMeasure Measure { get; init; } = new();
    public ClaimRule Rule { get; init; } = new();
    /// <summary>Ids of <see cref="HarnessFeatures"/> the claim needs.</summary>
    public IReadOnlyList<string> Needs { get; init; } = [];

    /// <summary>The needed features the harness does not have yet (empty: the claim runs).</summary>
    public IReadOnlyList<HarnessFeature> WaitsOn() =>
        Needs.Select(HarnessFeatures.Find).Where(f => f is { Available: false }).Select(f => f!).ToList();
    /// <summary>What the scale-down changes about the claim, shown with the verdict.</summary>
    public string? Note { get; init; }

    public IEnumerable<OptionProblem> Validate()
    {
        foreach (var (key, value) in new[] { ("id", Id), ("statement", Statement), ("unit", Unit), ("source", Source), ("url", Url), ("experiment", Experiment) })
            if (value.Length == 0) yield return new(key, $"missing required key '{key}'");
        if (Url.Length > 0 && !Url.StartsWith("https://", StringComparison.Ordinal)) yield return new("url", $"must be an https:// address (got '{Url}')");
        if (Rule.Kind is RuleKind.Ordering or RuleKind.Gap && Measure.Op != MeasureOp.Difference)
            yield return new("measure.op", $"rule {PackNaming.Of(Rule.Kind)} compares two configurations' seeds: measure.op must be difference");
        if (Rule.Kind is RuleKind.Ratio && PaperValue == 0) yield return new("paper_value", "rule ratio divides by the paper's value: it must not be 0");
        for (var i = 0; i < Needs.Count; i++)
            if (HarnessFeatures.Find(Needs[i]) is null)
                yield return new($"needs[{i}]", $"unknown feature '{Needs[i]}' (one of: {string.Join(", ", HarnessFeatures.All.Select(f => f.Id))})");
    }
}
