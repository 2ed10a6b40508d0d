using Harness.Core.Config;

namespace Harness.Core.Packs;

/// <summary>
/// A pack with its experiment files loaded and cross-checked: every claim's experiment exists and names
/// configurations (optimizer labels) the experiment has, at every scale it has a file for.
/// </summary>
/// <param name="Pack">The pack as written.</param>
/// <param name="SourcePath">The <c>pack.yaml</c> it came from.</param>
/// <param name="Experiments">Each experiment's loaded config per scale (absent where it has no file).</param>
public sealed record LoadedPack(PaperPack Pack, string SourcePath, IReadOnlyDictionary<(string Id, PackScale Scale), ExperimentConfig> Experiments)
{
    /// <summary>The loaded experiment of a claim at a scale, or null when the experiment has no file there.</summary>
    public ExperimentConfig? ExperimentOf(PaperClaim claim, PackScale scale) =>
        Experiments.TryGetValue((claim.Experiment, scale), out var config) ? config : null;

    /// <summary>The pack experiment a claim is measured by.</summary>
    public PackExperiment PackExperimentOf(PaperClaim claim) => Pack.Experiments.First(e => e.Id == claim.Experiment);
}
