namespace Harness.Experiments.Data;

/// <summary>The tokenizers a config can name (<c>workload.data.tokenizer</c>).</summary>
public static class TokenizerCatalog
{
    public static IReadOnlyList<string> Names { get; } = ["byte", "gpt2"];

    /// <summary>A new tokenizer by name; throws <see cref="ArgumentException"/> listing the known names.</summary>
    public static ITokenizer Create(string name) => name switch
    {
        "byte" => new ByteTokenizer(),
        "gpt2" => Gpt2Tokenizer.Create(),
        _ => throw new ArgumentException($"unknown tokenizer '{name}'; known tokenizers: {string.Join(", ", Names)}", nameof(name)),
    };
}
