using Harness.Optimizers;

namespace Harness.Experiments.Workloads;

/// <summary>Where the images of a classifier come from (<c>workload.data:</c>).</summary>
public sealed record ImageDataSpec : IValidatable
{
    /// <summary>
    /// <c>digits</c> (sklearn 8x8, bundled), a prepared dataset (<c>mnist</c>, <c>fashion-mnist</c>), or a folder
    /// (relative to the config file) with MNIST-style IDX files or CIFAR-10 binary batches.
    /// </summary>
    public string Dataset { get; init; } = "digits";

    public IEnumerable<OptionProblem> Validate()
    {
        if (!Data.ImageSources.LooksValid(Dataset))
            yield return new("dataset", $"unknown dataset '{Dataset}'; known: digits, " +
                $"{string.Join(", ", Data.PreparedData.All.Where(d => d.Kind == Data.PreparedKind.Images).Select(d => d.Name))}; or a folder path (./data/cifar10)");
    }
}
