using Harness.Experiments.Models;

namespace Harness.Experiments.Workloads;

/// <summary>
/// One workload kind: the YAML <c>kind</c>, the spec record it binds to, a summary, the factory and, where the
/// kind can say it without building the model, the parameters it would create (the memory planner's input).
/// </summary>
public sealed record WorkloadDescriptor(
    string Kind,
    Type SpecType,
    string Summary,
    Func<WorkloadSpec, WorkloadContext, IWorkload> Create)
{
    /// <summary>
    /// The model's parameters (name, shape, role) from the spec alone, allocating nothing; null when this kind
    /// has no shape description. Throws <see cref="ArgumentException"/> when the spec leaves the shape open.
    /// </summary>
    public Func<WorkloadSpec, IReadOnlyList<ParameterShape>>? ParameterShapes { get; init; }

    /// <summary>True when the kind's workloads store their matrix weights quantized on request (<see cref="IQuantizableMatrices"/>: every Matrix-role weight).</summary>
    public bool QuantizableMatrices { get; init; }

    public static WorkloadDescriptor Of<TSpec>(string kind, string summary, Func<TSpec, WorkloadContext, IWorkload> create,
        Func<TSpec, IReadOnlyList<ParameterShape>>? parameterShapes = null)
        where TSpec : WorkloadSpec, new() =>
        new(kind, typeof(TSpec), summary, (s, c) => create((TSpec)s, c))
        {
            ParameterShapes = parameterShapes is null ? null : s => parameterShapes((TSpec)s),
        };
}
