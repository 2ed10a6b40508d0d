using System.Security.Cryptography;
using Microsoft.ML.Tokenizers;

namespace Harness.Experiments.Data;

/// <summary>
/// Loads a tokenizer from files on disk through Microsoft.ML.Tokenizers, choosing the format by name:
/// <list type="bullet">
/// <item><c>*.model</c>: a SentencePiece model (BPE as LLaMA's <c>tokenizer.model</c>, or Unigram as T5's
/// <c>spiece.model</c>); the end-of-text id is the model's <c>&lt;/s&gt;</c> (eos_id) when it has one.</item>
/// <item><c>vocab.json</c>: a GPT-2-style byte-level BPE with <c>merges.txt</c> beside it; end of text is
/// <c>&lt;|endoftext|&gt;</c> when the vocabulary holds it.</item>
/// <item>any other <c>*.json</c>: a Hugging Face <c>tokenizer.json</c> (<see cref="HuggingFaceTokenizerJson"/>).</item>
/// <item>a folder: the first of <c>tokenizer.json</c>, <c>tokenizer.model</c>, <c>spiece.model</c>,
/// <c>vocab.json</c> in it (a model's Hugging Face folder).</item>
/// </list>
/// The tokenizer's name is <c>KIND-STEM-HASH</c> (<c>spm</c>, <c>hf</c> or <c>bpe</c>; the file's name; 8 hex digits of
/// the SHA-256 of its bytes), so a changed file never reuses another file's cached tokens.
/// </summary>
public static class TokenizerFile
{
    private static readonly string[] FolderCandidates = ["tokenizer.json", "tokenizer.model", "spiece.model", "vocab.json"];

    /// <summary>Whether a <c>tokenizer:</c> value is a path rather than a catalog name.</summary>
    public static bool LooksLikePath(string value) =>
        value.IndexOfAny(['/', '\\']) >= 0 || Path.HasExtension(value);

    /// <exception cref="DataException">The file is missing, of an unknown kind, or malformed.</exception>
    public static FileTokenizer Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (Directory.Exists(path))
        {
            var found = FolderCandidates.Select(c => Path.Combine(path, c)).FirstOrDefault(File.Exists)
                ?? throw new DataException(path, $"no tokenizer file in this folder (looked for {string.Join(", ", FolderCandidates)})");
            return Load(found);
        }
        if (!File.Exists(path)) throw new DataException(path, "tokenizer file not found");
        if (new FileInfo(path).Length == 0) throw new DataException(path, "tokenizer file is empty");
        var file = Path.GetFileName(path);
        if (file.EndsWith(".model", StringComparison.OrdinalIgnoreCase)) return SentencePiece(path);
        if (string.Equals(file, "vocab.json", StringComparison.OrdinalIgnoreCase)) return HuggingFaceTokenizerJson.LoadVocabAndMerges(path);
        if (file.EndsWith(".json", StringComparison.OrdinalIgnoreCase)) return HuggingFaceTokenizerJson.Load(path);
        throw new DataException(path, "unknown tokenizer file kind; expected a SentencePiece .model, a Hugging Face tokenizer.json, or vocab.json with merges.txt beside it");
    }

    private static FileTokenizer SentencePiece(string path)
    {
        SentencePieceTokenizer model;
        int eosId;
        bool unigram;
        try
        {
            var bytes = File.ReadAllBytes(path);
            eosId = SentencePieceModelBytes.EndOfSentenceId(bytes);
            unigram = SentencePieceModelBytes.IsUnigram(bytes);
            using var stream = new MemoryStream(SentencePieceModelBytes.WithPresentSpecialIds(bytes));
            model = SentencePieceTokenizer.Create(stream, addBeginningOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception e) when (IsLoadFailure(e))
        {
            throw new DataException(path, $"cannot load as a SentencePiece model: {e.Message}", e);
        }
        var vocabSize = Math.Max(model.Vocabulary.Values.DefaultIfEmpty(-1).Max(), model.SpecialTokens?.Values.DefaultIfEmpty(-1).Max() ?? -1) + 1;
        if (vocabSize < 1) throw new DataException(path, "the SentencePiece model has no pieces");
        int? eos = eosId >= 0 && eosId < vocabSize ? eosId : null;
        int? fuse = unigram && model.UnknownId >= 0 ? model.UnknownId : null;
        return new FileTokenizer(NameFor("spm", path, [path]), model, vocabSize, eos, path, fusedUnknownId: fuse);
    }

    /// <summary>Whether <paramref name="e"/> is how a tokenizer library reports a file it cannot read (not a bug of ours).</summary>
    internal static bool IsLoadFailure(Exception e) =>
        e is IOException or InvalidDataException or FormatException or ArgumentException or InvalidOperationException
            or System.Text.Json.JsonException or NotSupportedException or KeyNotFoundException or IndexOutOfRangeException or OverflowException;

    /// <summary><c>KIND-STEM-HASH</c>: ASCII, at most 48 characters, safe in a file name.</summary>
    internal static string NameFor(string kind, string path, IReadOnlyList<string> contents)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var c in contents) sha.AppendData(File.ReadAllBytes(c));
        var hash = Convert.ToHexStringLower(sha.GetHashAndReset())[..8];
        var stem = Path.GetFileNameWithoutExtension(Path.TrimEndingDirectorySeparator(path));
        var slug = new string([.. stem.Select(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_' ? ch : '_')]);
        if (slug.Length > 32) slug = slug[..32];
        return $"{kind}-{slug}-{hash}";
    }
}
