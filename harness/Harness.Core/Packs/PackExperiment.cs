using Harness.Optimizers;

namespace Harness.Core.Packs;

/// <summary>
/// One experiment of a pack: the experiment YAML it runs at each scale (paths relative to the pack folder).
/// A scale without a file needs <see cref="Missing"/>: why the experiment cannot run there, which becomes the
/// verdict <c>not run: &lt;reason&gt;</c> of its claims at that scale.
/// </summary>
public sealed record PackExperiment : IValidatable
{
    public string Id { get; init; } = "";
    public string? Smoke { get; init; }
    public string? Reduced { get; init; }
    public string? Paper { get; init; }
    public string? Missing { get; init; }

    /// <summary>The file of a scale, or null when the experiment has none there.</summary>
    public string? FileAt(PackScale scale) => scale switch
    {
        PackScale.Smoke => Smoke,
        PackScale.Reduced => Reduced,
        _ => Paper,
    };

    public IEnumerable<OptionProblem> Validate()
    {
        if (Id.Length == 0) yield return new("id", "missing required key 'id'");
        if (Smoke is null && Reduced is null && Paper is null) yield return new("id", "an experiment needs a file at one scale at least (smoke, reduced or paper)");
        if ((Smoke is null || Reduced is null || Paper is null) && Missing is null)
            yield return new("missing", "a scale has no file: say why in 'missing' (it becomes the claims' 'not run' reason)");
        if (Smoke is not null && Reduced is not null && Paper is not null && Missing is not null)
            yield return new("missing", "every scale has a file: 'missing' says nothing; remove it");
    }
}
