using Microsoft.ML.Tokenizers;

namespace Harness.Experiments.Data;

/// <summary>
/// A tokenizer loaded from the user's files (<see cref="TokenizerFile"/>): a SentencePiece <c>.model</c>, a Hugging
/// Face <c>tokenizer.json</c>, or a <c>vocab.json</c> + <c>merges.txt</c> byte-level BPE, run by
/// Microsoft.ML.Tokenizers. Encoding adds no beginning- or end-of-sentence ids (documents are joined by
/// <see cref="EndOfText"/>); special tokens written in the text are matched as the file's own library matches them.
/// </summary>
public sealed class FileTokenizer : ITokenizer
{
    private readonly Tokenizer tokenizer;
    private readonly int? fusedUnknownId;
    private readonly bool noPrefixBeforeSpace;

    /// <param name="name">The config-independent identity: kind, file stem and content hash (keys the token cache).</param>
    /// <param name="tokenizer">The loaded ML.Tokenizers tokenizer, set to add no sentence markers.</param>
    /// <param name="vocabSize">One past the largest id it can produce.</param>
    /// <param name="endOfText">The id placed between documents, or null when the file defines none.</param>
    /// <param name="filePath">The file (or folder) it was loaded from.</param>
    /// <param name="fusedUnknownId">
    /// The unknown id whose consecutive repeats become one, as SentencePiece's and Hugging Face's Unigram models emit
    /// one unknown piece for a run of unknown characters (ML.Tokenizers emits one per character); null to keep them.
    /// </param>
    /// <param name="noPrefixBeforeSpace">
    /// Hugging Face's Metaspace pre-tokenizer prepends its U+2581 only when the text does not already start with a
    /// space; ML.Tokenizers always prepends it. When set, a leading space stands in for the prefix (it becomes
    /// U+2581 anyway), which gives Hugging Face's ids.
    /// </param>
    public FileTokenizer(string name, Tokenizer tokenizer, int vocabSize, int? endOfText, string filePath,
        int? fusedUnknownId = null, bool noPrefixBeforeSpace = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, 1);
        if (endOfText is { } e) ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(e, vocabSize, nameof(endOfText));
        Name = name;
        this.tokenizer = tokenizer;
        VocabSize = vocabSize;
        EndOfText = endOfText;
        FilePath = filePath;
        this.fusedUnknownId = fusedUnknownId;
        this.noPrefixBeforeSpace = noPrefixBeforeSpace;
    }

    public string Name { get; }

    public int VocabSize { get; }

    public int? EndOfText { get; }

    /// <summary>The file (or folder) the tokenizer was loaded from.</summary>
    public string FilePath { get; }

    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = tokenizer.EncodeToIds(noPrefixBeforeSpace && text.StartsWith(' ') ? text[1..] : text);
        if (fusedUnknownId is not { } unk) return [.. ids];
        var fused = new List<int>(ids.Count);
        foreach (var id in ids)
            if (id != unk || fused.Count == 0 || fused[^1] != unk) fused.Add(id);
        return [.. fused];
    }

    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return tokenizer.Decode(ids);
    }
}
