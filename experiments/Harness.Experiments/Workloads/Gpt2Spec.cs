using Harness.Optimizers;

namespace Harness.Experiments.Workloads;

/// <summary>
/// GPT-2 (learned positions, LayerNorm with biases, GELU MLP, head tied to the token table) on text
/// (<c>workload: {kind: gpt2, ...}</c>). <see cref="Size"/> picks a preset (<c>small</c> is the 124M
/// model); explicit <c>hidden/layers/heads/context</c> override it. seq_len must fit the context.
/// </summary>
public sealed record Gpt2Spec : WorkloadSpec
{
    public string Size { get; init; } = "tiny";
    public int? Hidden { get; init; }
    public int? Layers { get; init; }
    public int? Heads { get; init; }
    public int? Context { get; init; }
    public int SeqLen { get; init; } = 128;
    /// <summary>
    /// bitsandbytes' StableEmbedding as the token table: xavier-uniform init, a LayerNorm after the lookup, and 32-bit
    /// optimizer state for the table (what the 8-bit Adam paper's language models used). Left out of the run spec when
    /// unset, so adding the key kept existing run ids.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public bool? StableEmbedding { get; init; }
    /// <summary>
    /// Rows of the embedding (and head): a paper's vocabulary (32,000 for LLaMA, 32,100 for T5's) so the model has
    /// its exact shape; null = the tokenizer's. It must cover the tokenizer (<see cref="ModelVocabulary"/>).
    /// Left out of the run spec when unset, so existing run ids stay.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public int? VocabSize { get; init; }
    public TextDataSpec Data { get; init; } = new() { Tokenizer = "gpt2" };

    public override IEnumerable<OptionProblem> Validate()
    {
        foreach (var p in base.Validate()) yield return p;
        foreach (var p in ModelVocabulary.Validate(VocabSize, Data)) yield return p;
        foreach (var p in SequenceModelBasics(SeqLen, Data, Size, Models.Gpt2Config.KnownSizes,
                     ("hidden", Hidden), ("layers", Layers), ("heads", Heads), ("context", Context)))
            yield return p;
        if (!Models.Gpt2Config.KnownSizes.Contains(Size)) yield break;
        if (Hidden is < 1 || Layers is < 1 || Heads is < 1 || Context is < 1) yield break;
        Models.Gpt2Config? config = null;
        string? shapeProblem = null;
        try
        {
            config = Models.Gpt2Config.Resolve(Size, 256, Hidden, Layers, Heads, Context);
        }
        catch (ArgumentException e)
        {
            shapeProblem = e.Message;
        }
        if (shapeProblem is not null) yield return new(Heads is not null ? "heads" : Hidden is not null ? "hidden" : "size", shapeProblem);
        if (config is not null && SeqLen > config.Context)
            yield return new("seq_len", $"{SeqLen} is longer than the model's context of {config.Context} positions");
    }
}
