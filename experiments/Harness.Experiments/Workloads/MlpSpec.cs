using Harness.Optimizers;

namespace Harness.Experiments.Workloads;

/// <summary>An MLP classifier (<c>kind: mlp</c>): <c>depth</c> hidden ReLU layers of <c>width</c> units.</summary>
public sealed record MlpSpec : ImageClassifierSpec
{
    public int Width { get; init; } = 256;
    public int Depth { get; init; } = 2;

    public override IEnumerable<OptionProblem> Validate()
    {
        foreach (var p in base.Validate()) yield return p;
        if (Width < 1) yield return new("width", $"must be >= 1 (got {Width})");
        if (Depth < 1) yield return new("depth", $"must be >= 1 (got {Depth})");
    }
}
