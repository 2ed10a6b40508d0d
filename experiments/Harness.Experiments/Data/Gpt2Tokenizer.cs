using Microsoft.ML.Tokenizers;
using SharpToken;

namespace Harness.Experiments.Data;

/// <summary>
/// GPT-2's r50k BPE (50257 ids, <c>&lt;|endoftext|&gt;</c> = 50256), fully offline. ML.Tokenizers' own GPT-2 data
/// package is not on the registry we build from, so the vocabulary stream comes from the copy SharpToken
/// embeds (the official file, CRLF line ends, which the Tiktoken loader accepts); ML.Tokenizers supplies
/// the GPT-2 pre-tokenisation regex and special token.
/// </summary>
public sealed class Gpt2Tokenizer : ITokenizer
{
    private const string VocabularyResource = "SharpToken.data.r50k_base.tiktoken";

    private readonly TiktokenTokenizer tokenizer;

    private Gpt2Tokenizer(TiktokenTokenizer tokenizer) => this.tokenizer = tokenizer;

    /// <summary>Loads the vocabulary (about 0.1–0.3 s; keep the instance).</summary>
    public static Gpt2Tokenizer Create()
    {
        using var stream = typeof(GptEncoding).Assembly.GetManifestResourceStream(VocabularyResource)
            ?? throw new InvalidOperationException($"resource '{VocabularyResource}' is missing from SharpToken");
        return new Gpt2Tokenizer(TiktokenTokenizer.CreateForModel("gpt2", stream));
    }

    public string Name => "gpt2";

    public int VocabSize => 50257;

    public int? EndOfText => 50256;

    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return [.. tokenizer.EncodeToIds(text)];
    }

    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return tokenizer.Decode(ids);
    }
}
