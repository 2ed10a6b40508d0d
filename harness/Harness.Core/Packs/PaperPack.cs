using Harness.Optimizers;

namespace Harness.Core.Packs;

/// <summary>A paper's reproduction pack, <c>configs/papers/&lt;paper&gt;/pack.yaml</c>, as written (experiments not yet loaded).</summary>
public sealed record PaperPack : IValidatable
{
    /// <summary>The pack's short name (its folder), e.g. <c>galore</c>.</summary>
    public string Paper { get; init; } = "";
    public string Title { get; init; } = "";
    public string Arxiv { get; init; } = "";
    public string ReferenceCode { get; init; } = "";
    public string Citation { get; init; } = "";
    public IReadOnlyList<PackExperiment> Experiments { get; init; } = [];
    public IReadOnlyList<PaperClaim> Claims { get; init; } = [];

    public IEnumerable<OptionProblem> Validate()
    {
        foreach (var (key, value) in new[] { ("paper", Paper), ("title", Title), ("arxiv", Arxiv), ("reference_code", ReferenceCode), ("citation", Citation) })
            if (value.Length == 0) yield return new(key, $"missing required key '{key}'");
        foreach (var (list, what) in new[] { (Experiments.Select(e => e.Id).ToList(), "experiments"), (Claims.Select(c => c.Id).ToList(), "claims") })
            for (var i = 0; i < list.Count; i++)
                if (list[i].Length > 0 && list.IndexOf(list[i]) < i) yield return new($"{what}[{i}].id", $"duplicate id '{list[i]}' (also {what}[{list.IndexOf(list[i])}])");
        var ids = Experiments.Select(e => e.Id).ToHashSet(StringComparer.Ordinal);
        for (var i = 0; i < Claims.Count; i++)
            if (Claims[i].Experiment.Length > 0 && !ids.Contains(Claims[i].Experiment))
                yield return new($"claims[{i}].experiment", $"no experiment '{Claims[i].Experiment}' in this pack (experiments: {string.Join(", ", ids)})");
    }
}
