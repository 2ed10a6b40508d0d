namespace Harness.Experiments.Workloads;

/// <summary>Every workload kind, one line each (read by the config loader and <c>harness list</c>).</summary>
public static class WorkloadCatalog
{
    public static IReadOnlyList<WorkloadDescriptor> All { get; } =
    [
        WorkloadDescriptor.Of<LlamaSpec>("llama",
            "LLaMA-style decoder (RMSNorm, RoPE, SwiGLU, causal attention) on text; presets tiny..7b",
            (s, c) => new LanguageModelWorkload(s, c),
            s => Models.LlamaConfig.FromSpec(s, ModelVocabulary.ForPlanning(s.VocabSize, s.Data)).ParameterShapes()) with { QuantizableMatrices = true },
        WorkloadDescriptor.Of<Gpt2Spec>("gpt2",
            "GPT-2 (learned positions, LayerNorm, GELU MLP, tied head) on text; presets tiny, small (124M), medium, large, xl",
            (s, c) => new LanguageModelWorkload(s, c),
            s => Models.Gpt2Config.FromSpec(s, ModelVocabulary.ForPlanning(s.VocabSize, s.Data)).ParameterShapes()),
        WorkloadDescriptor.Of<MlpSpec>("mlp", "MLP image classifier (digits, MNIST, Fashion-MNIST, CIFAR-10 binary)",
            (s, c) => new ImageClassificationWorkload(s, c)),
        WorkloadDescriptor.Of<CnnSpec>("cnn", "small CNN image classifier (two conv stages)",
            (s, c) => new ImageClassificationWorkload(s, c)),
        WorkloadDescriptor.Of<VitSpec>("vit", "ViT-tiny image classifier (patch 4 or 7 on 28x28)",
            (s, c) => new ImageClassificationWorkload(s, c)),
    ];

    public static WorkloadDescriptor? Find(string kind) =>
        All.FirstOrDefault(d => string.Equals(d.Kind, kind, StringComparison.Ordinal));
}
