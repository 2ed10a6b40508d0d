using Harness.Optimizers;

namespace Harness.Experiments.Workloads;

/// <summary>A ViT-tiny classifier (<c>kind: vit</c>); <c>patch</c> must divide the image size (4 or 7 for 28x28, 4 or 2 for 8x8).</summary>
public sealed record VitSpec : ImageClassifierSpec
{
    public int Patch { get; init; } = 4;
    public int Hidden { get; init; } = 64;
    public int Layers { get; init; } = 4;
    public int Heads { get; init; } = 4;

    public override IEnumerable<OptionProblem> Validate()
    {
        foreach (var p in base.Validate()) yield return p;
        if (Patch < 1) yield return new("patch", $"must be >= 1 (got {Patch})");
        if (Layers < 1) yield return new("layers", $"must be >= 1 (got {Layers})");
        if (Heads < 1) yield return new("heads", $"must be >= 1 (got {Heads})");
        if (Hidden < 1) yield return new("hidden", $"must be >= 1 (got {Hidden})");
        else if (Heads >= 1 && Hidden % Heads != 0) yield return new("heads", $"hidden ({Hidden}) must be divisible by heads ({Heads})");
    }
}
