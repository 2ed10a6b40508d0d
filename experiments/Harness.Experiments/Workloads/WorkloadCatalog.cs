namespace Harness.Experiments.Workloads;

/// <summary>Every workload kind, one line each (read by the config loader and <c>harness list</c>).</summary>
public static class WorkloadCatalog
{
    public static IReadOnlyList<WorkloadDescriptor> All { get; } =
    [
        WorkloadDescriptor.Of<LlamaSpec>("llama",
            "LLaMA-style decoder (RMSNorm, RoPE, SwiGLU, causal attention) on text; presets tiny..7b",
            (s, c) => new LanguageModelWorkload(s, c)),
    ];

    public static WorkloadDescriptor? Find(string kind) =>
        All.FirstOrDefault(d => string.Equals(d.Kind, kind, StringComparison.Ordinal));
}
