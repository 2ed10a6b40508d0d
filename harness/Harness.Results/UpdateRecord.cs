namespace Harness.Results;

/// <summary>
/// One row of <c>updates.csv</c>: on a logged step, how far the step moved the parameters of one role, in units of
/// that step's scheduled learning rate: |Δp| / lr over every element of every parameter of the role (Δp measured from a
/// copy taken before the step, so it includes weight decay). A well-behaved Adam update stays within a few units.
/// </summary>
public sealed record UpdateRecord
{
    public int Step { get; init; }
    /// <summary>The parameter role, snake_case (<c>matrix</c>, <c>vector</c>, <c>embedding</c>, <c>output_head</c>).</summary>
    public string Role { get; init; } = "";
    public double Lr { get; init; }
    /// <summary>Elements of the role's parameters.</summary>
    public long Elements { get; init; }
    /// <summary>max |Δp| / lr.</summary>
    public double MaxRatio { get; init; }
    /// <summary>√(mean (Δp)²) / lr.</summary>
    public double RmsRatio { get; init; }
    /// <summary>The parameter holding the largest ratio.</summary>
    public string MaxParameter { get; init; } = "";
}
