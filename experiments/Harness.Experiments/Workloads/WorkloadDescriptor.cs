namespace Harness.Experiments.Workloads;

/// <summary>One workload kind: the YAML <c>kind</c>, the spec record it binds to, a summary and the factory.</summary>
public sealed record WorkloadDescriptor(
    string Kind,
    Type SpecType,
    string Summary,
    Func<WorkloadSpec, WorkloadContext, IWorkload> Create)
{
    public static WorkloadDescriptor Of<TSpec>(string kind, string summary, Func<TSpec, WorkloadContext, IWorkload> create)
        where TSpec : WorkloadSpec, new() =>
        new(kind, typeof(TSpec), summary, (s, c) => create((TSpec)s, c));
}
