using Harness.Optimizers;

namespace Harness.Experiments.Workloads;

/// <summary>A small CNN classifier (<c>kind: cnn</c>): two conv stages of <c>channels</c> and 2·<c>channels</c>.</summary>
public sealed record CnnSpec : ImageClassifierSpec
{
    public int Channels { get; init; } = 32;

    public override IEnumerable<OptionProblem> Validate()
    {
        foreach (var p in base.Validate()) yield return p;
        if (Channels < 1) yield return new("channels", $"must be >= 1 (got {Channels})");
    }
}
