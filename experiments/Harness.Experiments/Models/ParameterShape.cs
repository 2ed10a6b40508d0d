using Harness.Optimizers;

namespace Harness.Experiments.Models;

/// <summary>
/// A parameter as the model will create it, known from the model's shape alone (no tensor): its
/// <c>named_parameters()</c> name, its shape and its role. The memory planner sizes models of any scale from these.
/// </summary>
public sealed record ParameterShape(string Name, IReadOnlyList<long> Shape, ParamRole Role)
{
    /// <summary>Number of elements.</summary>
    public long Numel => Shape.Aggregate(1L, (a, b) => a * b);

    /// <summary>Shape as text, e.g. <c>4096x11008</c>.</summary>
    public override string ToString() => $"{Name} [{string.Join('x', Shape)}] {Role}";
}
