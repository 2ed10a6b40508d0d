namespace Harness.Experiments.Data;

/// <summary>
/// The tokenizers a config can name (<c>workload.data.tokenizer</c>): <c>byte</c>, <c>gpt2</c>, or a path (relative
/// to the config file) to a tokenizer file or folder, loaded by <see cref="TokenizerFile"/>.
/// </summary>
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

    /// <summary>Whether <paramref name="value"/> could name a tokenizer: a catalog name or a path-like value.</summary>
    public static bool LooksValid(string value) => Names.Contains(value) || TokenizerFile.LooksLikePath(value);

    /// <summary>A new tokenizer by name; throws <see cref="ArgumentException"/> listing the known names.</summary>
    public static ITokenizer Create(string name) => name switch
    {
        "byte" => new ByteTokenizer(),
        "gpt2" => Gpt2Tokenizer.Create(),
        _ => throw new ArgumentException($"unknown tokenizer '{name}'; known tokenizers: {string.Join(", ", Names)}, or a path to a tokenizer file", nameof(name)),
    };

    /// <summary>A catalog tokenizer, or the tokenizer file <paramref name="nameOrPath"/> resolved against <paramref name="where"/>.</summary>
    /// <exception cref="DataException">The tokenizer file is missing or malformed.</exception>
    public static ITokenizer Create(string nameOrPath, DataLocations where)
    {
        ArgumentNullException.ThrowIfNull(where);
        return Names.Contains(nameOrPath) || !TokenizerFile.LooksLikePath(nameOrPath)
            ? Create(nameOrPath)
            : TokenizerFile.Load(where.Resolve(nameOrPath));
    }
}
