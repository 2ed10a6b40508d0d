using Harness.Optimizers;

namespace Harness.Experiments.Workloads;

/// <summary>What every image-classifier workload (<c>mlp</c>, <c>cnn</c>, <c>vit</c>) shares: its data.</summary>
public abstract record ImageClassifierSpec : WorkloadSpec
{
    public ImageDataSpec Data { get; init; } = new();

    public override IEnumerable<OptionProblem> Validate()
    {
        foreach (var p in base.Validate()) yield return p;
        foreach (var p in Data.Validate()) yield return p with { Key = $"data.{p.Key}" };
    }
}
