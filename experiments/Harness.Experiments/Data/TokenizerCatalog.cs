namespace Harness.Experiments.Data;

/// <summary>The tokenizers a config can name (<c>workload.data.tokenizer</c>).</summary>
public static class TokenizerCatalog
{
    public static IReadOnlyList<string> Names { get; } = ["byte", "gpt2"];

    /// <summary>The vocabulary of a built-in tokenizer, known without loading it; null for one known only from its file.</summary>
    public static int? KnownVocabSize(string name) => name switch
    {
        "byte" => 256,
        "gpt2" => 50257,
        _ => null,
    };

    /// <summary>A new tokenizer by name; throws <see cref="ArgumentException"/> listing the known names.</summary>
    public static ITokenizer Create(string name) => name switch
    {
        "byte" => new ByteTokenizer(),
        "gpt2" => Gpt2Tokenizer.Create(),
        _ => throw new ArgumentException($"unknown tokenizer '{name}'; known tokenizers: {string.Join(", ", Names)}", nameof(name)),
    };
}
