using Harness.Optimizers;

namespace Harness.Experiments.Workloads;

/// <summary>Where the text of a language-model workload comes from (<c>workload.data:</c>).</summary>
public sealed record TextDataSpec : IValidatable
{
    /// <summary>
    /// A bundled corpus (<c>moby-dick</c>), a prepared one (<c>prose</c>), or a path relative to the config
    /// file: a text file, a glob of text files, a nanoGPT/llm.c <c>.bin</c>, Parquet files, or JSON-lines shards
    /// (<c>.json</c>, <c>.jsonl</c>, optionally <c>.gz</c>, as C4's).
    /// </summary>
    public string Corpus { get; init; } = "moby-dick";
    /// <summary>The string column read from Parquet files, and the string field of each JSON-lines object.</summary>
    public string TextColumn { get; init; } = "text";
    /// <summary>
    /// <c>byte</c> (256 ids, for tiny CPU runs), <c>gpt2</c> (r50k BPE, 50257 ids), or a path relative to the config
    /// file to a tokenizer file: a SentencePiece <c>.model</c>, a Hugging Face <c>tokenizer.json</c>, a <c>vocab.json</c>
    /// with <c>merges.txt</c> beside it, or a folder holding one of them.
    /// </summary>
    public string Tokenizer { get; init; } = "byte";
    /// <summary>Fraction of the token stream held out (from its end) for validation.</summary>
    public double ValFraction { get; init; } = 0.05;

    public IEnumerable<OptionProblem> Validate()
    {
        if (!Data.TextCorpus.LooksValid(Corpus))
            yield return new("corpus", $"unknown corpus '{Corpus}'; built-in corpora: {string.Join(", ", Data.CorpusCatalog.All.Select(c => c.Name))}; " +
                $"prepared: {string.Join(", ", Data.PreparedData.All.Where(d => d.Kind == Data.PreparedKind.Text).Select(d => d.Name))}; or a path to text, .bin, .parquet or .json(l)(.gz) files");
        if (string.IsNullOrWhiteSpace(TextColumn)) yield return new("text_column", "must not be empty");
        if (!Data.TokenizerCatalog.LooksValid(Tokenizer))
            yield return new("tokenizer", $"unknown tokenizer '{Tokenizer}'; known: {string.Join(", ", Data.TokenizerCatalog.Names)}, or a path to a tokenizer file (.model, tokenizer.json, vocab.json)");
        if (!(ValFraction > 0 && ValFraction < 0.5)) yield return new("val_fraction", $"must be in (0, 0.5) (got {ValFraction:R})");
    }
}

/// <summary>
/// A LLaMA-style decoder (RMSNorm, RoPE, SwiGLU, causal attention, untied head) on text
/// (<c>workload: {kind: llama, ...}</c>). <see cref="Size"/> picks a preset; explicit
/// <c>hidden/layers/heads/ffn</c> override it.
/// </summary>
public sealed record LlamaSpec : WorkloadSpec
{
    public string Size { get; init; } = "tiny";
    public int? Hidden { get; init; }
    public int? Layers { get; init; }
    public int? Heads { get; init; }
    public int? Ffn { get; init; }
    /// <summary>Key/value heads (grouped-query attention); null = the preset's (heads for every preset but llama3-8b).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public int? KvHeads { get; init; }
    /// <summary>RoPE base; null = the preset's (10000, 500000 for llama3-8b).</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public double? RopeTheta { get; init; }
    /// <summary>Tie the LM head to the embedding; null = untied.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public bool? TieEmbeddings { get; init; }
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
    public TextDataSpec Data { get; init; } = new();

    public override IEnumerable<OptionProblem> Validate()
    {
        foreach (var p in base.Validate()) yield return p;
        foreach (var p in ModelVocabulary.Validate(VocabSize, Data)) yield return p;
        foreach (var p in SequenceModelBasics(SeqLen, Data, Size, Models.LlamaConfig.KnownSizes,
                     ("hidden", Hidden), ("layers", Layers), ("heads", Heads), ("ffn", Ffn)))
            yield return p;
        if (!Models.LlamaConfig.KnownSizes.Contains(Size)) yield break;
        // The model's shape must work whatever the tokenizer (its vocabulary only sizes the embedding).
        string? shapeProblem = null;
        try
        {
            Models.LlamaConfig.Resolve(Size, 256, Hidden, Layers, Heads, Ffn, KvHeads, RopeTheta, TieEmbeddings);
        }
        catch (ArgumentException e)
        {
            shapeProblem = e.Message;
        }
        // Point at the key the user wrote that decides the shape (heads, else hidden, else the preset).
        if (shapeProblem is not null && Hidden is not < 1 && Layers is not < 1 && Heads is not < 1 && Ffn is not < 1)
            yield return new(shapeProblem.StartsWith("kv_heads", StringComparison.Ordinal) && KvHeads is not null ? "kv_heads"
                : shapeProblem.StartsWith("rope_theta", StringComparison.Ordinal) ? "rope_theta"
                : Heads is not null ? "heads" : Hidden is not null ? "hidden" : "size", shapeProblem);
    }
}
