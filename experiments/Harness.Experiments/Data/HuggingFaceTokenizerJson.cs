using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Harness.Experiments.Data;

/// <summary>
/// Hugging Face tokenizer files read into Microsoft.ML.Tokenizers:
/// <list type="bullet">
/// <item>a <c>tokenizer.json</c> whose model is <c>Unigram</c> (T5-style; ML.Tokenizers reads it itself), or
/// <c>BPE</c> with a <c>ByteLevel</c> pre-tokenizer (GPT-2, RoBERTa), optionally after a regex <c>Split</c>
/// (LLaMA-3 style), no normalizer and no byte fallback;</item>
/// <item>a GPT-2-style <c>vocab.json</c> + <c>merges.txt</c> pair (byte-level BPE, GPT-2's split regex).</item>
/// </list>
/// Any other layout (a normalizer, Metaspace BPE as in LLaMA-2's converted file, WordPiece) is refused with a
/// one-line error naming the part that is not supported; for SentencePiece models use the <c>.model</c> file.
/// The end-of-text id is the first special token named <c>&lt;|endoftext|&gt;</c>, <c>&lt;|end_of_text|&gt;</c>,
/// <c>&lt;/s&gt;</c> or <c>&lt;eos&gt;</c>.
/// </summary>
public static class HuggingFaceTokenizerJson
{
    /// <summary>The split of GPT-2's byte-level pre-tokenizer (<c>ByteLevel</c> with <c>use_regex: true</c>).</summary>
    private const string Gpt2Split = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private static readonly string[] EndOfTextNames = ["<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>"];

    /// <exception cref="DataException">Not JSON, not a tokenizer.json, or a layout this reader does not support.</exception>
    public static FileTokenizer Load(string path)
    {
        JsonDocument json;
        try
        {
            json = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new DataException(path, $"not valid JSON: {e.Message}", e);
        }
        using (json)
        {
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
                throw new DataException(path, "not a Hugging Face tokenizer.json: no \"model\" object");
            var type = model.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            var special = SpecialTokens(root, path);
            return type switch
            {
                "Unigram" => Unigram(path, root, special),
                "BPE" => Bpe(path, root, model, special),
                _ => throw new DataException(path, $"model type '{type ?? "(none)"}' is not supported; supported: BPE (byte-level), Unigram"),
            };
        }
    }

    /// <summary>GPT-2's layout: <c>vocab.json</c> (token → id) and <c>merges.txt</c> beside it.</summary>
    /// <exception cref="DataException">merges.txt is missing, or either file is malformed.</exception>
    public static FileTokenizer LoadVocabAndMerges(string vocabPath)
    {
        var mergesPath = Path.Combine(Path.GetDirectoryName(vocabPath) ?? ".", "merges.txt");
        if (!File.Exists(mergesPath)) throw new DataException(vocabPath, "a vocab.json tokenizer needs merges.txt beside it, and there is none");
        Dictionary<string, int> vocabulary;
        try
        {
            vocabulary = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllBytes(vocabPath))
                ?? throw new DataException(vocabPath, "vocab.json is null");
        }
        catch (JsonException e)
        {
            throw new DataException(vocabPath, $"not a JSON object of token -> id: {e.Message}", e);
        }
        var merges = new List<string>();
        var line = 0;
        foreach (var text in File.ReadLines(mergesPath))
        {
            line++;
            if ((line == 1 && text.StartsWith("#version", StringComparison.Ordinal)) || text.Length == 0) continue;
            if (text.Split(' ').Length != 2) throw new DataException(mergesPath, line, "a merge is two tokens separated by one space");
            merges.Add(text);
        }
        var special = EndOfTextNames.Where(vocabulary.ContainsKey).ToDictionary(n => n, n => vocabulary[n]);
        var options = new BpeOptions(vocabulary)
        {
            Merges = merges,
            SpecialTokens = special,
            ByteLevel = true,
            PreTokenizer = new RegexPreTokenizer(new Regex(Gpt2Split, RegexOptions.Compiled), special),
        };
        var name = TokenizerFile.NameFor("bpe", Path.GetDirectoryName(Path.GetFullPath(vocabPath))!, [vocabPath, mergesPath]);
        return Finish(vocabPath, name, () => BpeTokenizer.Create(options), vocabulary.Values, special);
    }

    private static FileTokenizer Unigram(string path, JsonElement root, Dictionary<string, int> special)
    {
        var name = TokenizerFile.NameFor("hf", path, [path]);
        // Hugging Face's Metaspace prepends U+2581 unless the (normalized) text already starts with a space; with no
        // normalizer that is the raw text, and FileTokenizer reproduces it. After a normalizer, leading whitespace
        // may still differ from Hugging Face (documented; T5's normalizer collapses it anyway).
        var pre = root.TryGetProperty("pre_tokenizer", out var p) ? p : default;
        var noPrefixBeforeSpace = TypeOf(pre) == "Metaspace" && StringOrNull(pre, "prepend_scheme") is null or "always" or "first"
            && (!root.TryGetProperty("normalizer", out var n) || n.ValueKind == JsonValueKind.Null);
        return Finish(path, name, () =>
        {
            using var stream = File.OpenRead(path);
            return SentencePieceTokenizer.CreateFromTokenizerJson(stream, addBeginningOfSentence: false, addEndOfSentence: false);
        }, [], special, fuseUnknown: true, noPrefixBeforeSpace);
    }

    private static FileTokenizer Bpe(string path, JsonElement root, JsonElement model, Dictionary<string, int> special)
    {
        if (root.TryGetProperty("normalizer", out var normalizer) && normalizer.ValueKind != JsonValueKind.Null)
            throw new DataException(path, $"normalizer '{TypeOf(normalizer)}' is not supported for BPE (only none)");
        if (model.TryGetProperty("byte_fallback", out var fallback) && fallback.ValueKind == JsonValueKind.True)
            throw new DataException(path, "BPE with byte_fallback (a SentencePiece model converted to tokenizer.json) is not supported; use its tokenizer.model");
        if (model.TryGetProperty("dropout", out var dropout) && dropout.ValueKind == JsonValueKind.Number && dropout.GetDouble() > 0)
            throw new DataException(path, "BPE dropout is not supported (it makes tokenization random)");
        var split = ByteLevelSplit(path, root.TryGetProperty("pre_tokenizer", out var p) ? p : default);
        if (!model.TryGetProperty("vocab", out var vocab) || vocab.ValueKind != JsonValueKind.Object)
            throw new DataException(path, "BPE model has no \"vocab\" object");
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in vocab.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out var id) || id < 0)
                throw new DataException(path, $"vocab entry '{entry.Name}' is not a non-negative integer id");
            vocabulary[entry.Name] = id;
        }
        if (!model.TryGetProperty("merges", out var mergeList) || mergeList.ValueKind != JsonValueKind.Array)
            throw new DataException(path, "BPE model has no \"merges\" array");
        var merges = new List<string>();
        foreach (var m in mergeList.EnumerateArray())
        {
            // Older files write a merge as "a b", newer ones as ["a", "b"].
            if (m.ValueKind == JsonValueKind.String && m.GetString()!.Split(' ').Length == 2) merges.Add(m.GetString()!);
            else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2 && m.EnumerateArray().All(x => x.ValueKind == JsonValueKind.String))
                merges.Add($"{m[0].GetString()} {m[1].GetString()}");
            else throw new DataException(path, $"merge #{merges.Count + 1} is neither \"a b\" nor [\"a\", \"b\"]");
        }
        var options = new BpeOptions(vocabulary)
        {
            Merges = merges,
            SpecialTokens = special,
            ByteLevel = true,
            PreTokenizer = new RegexPreTokenizer(new Regex(split, RegexOptions.Compiled), special),
            UnknownToken = StringOrNull(model, "unk_token"),
            ContinuingSubwordPrefix = StringOrNull(model, "continuing_subword_prefix"),
            EndOfWordSuffix = StringOrNull(model, "end_of_word_suffix"),
            FuseUnknownTokens = model.TryGetProperty("fuse_unk", out var fuse) && fuse.ValueKind == JsonValueKind.True,
        };
        return Finish(path, TokenizerFile.NameFor("hf", path, [path]), () => BpeTokenizer.Create(options), vocabulary.Values, special);
    }

    /// <summary>The split regex of a byte-level pre-tokenizer: <c>ByteLevel</c> (GPT-2's regex) or <c>Sequence[Split(regex), ByteLevel(use_regex: false)]</c>.</summary>
    private static string ByteLevelSplit(string path, JsonElement pre)
    {
        const string Supported = "supported: ByteLevel, or Sequence of a regex Split and ByteLevel";
        if (pre.ValueKind != JsonValueKind.Object) throw new DataException(path, $"a BPE tokenizer.json without a pre_tokenizer is not supported; {Supported}");
        var type = TypeOf(pre);
        if (type == "ByteLevel")
        {
            if (Flag(pre, "add_prefix_space")) throw new DataException(path, "ByteLevel add_prefix_space is not supported");
            if (pre.TryGetProperty("use_regex", out var r) && r.ValueKind == JsonValueKind.False)
                throw new DataException(path, "ByteLevel without its regex (use_regex: false) and no Split before it is not supported");
            return Gpt2Split;
        }
        if (type == "Sequence" && pre.TryGetProperty("pretokenizers", out var list) && list.ValueKind == JsonValueKind.Array && list.GetArrayLength() == 2
            && TypeOf(list[0]) == "Split" && TypeOf(list[1]) == "ByteLevel" && !Flag(list[1], "add_prefix_space")
            && list[1].TryGetProperty("use_regex", out var useRegex) && useRegex.ValueKind == JsonValueKind.False
            && list[0].TryGetProperty("pattern", out var pattern) && pattern.ValueKind == JsonValueKind.Object
            && pattern.TryGetProperty("Regex", out var regex) && regex.ValueKind == JsonValueKind.String
            && list[0].TryGetProperty("behavior", out var behavior) && behavior.GetString() == "Isolated" && !Flag(list[0], "invert"))
            return regex.GetString()!;
        throw new DataException(path, $"pre_tokenizer '{type}' is not supported for BPE; {Supported}");
    }

    private static Dictionary<string, int> SpecialTokens(JsonElement root, string path)
    {
        var special = new Dictionary<string, int>(StringComparer.Ordinal);
        if (!root.TryGetProperty("added_tokens", out var added) || added.ValueKind != JsonValueKind.Array) return special;
        foreach (var token in added.EnumerateArray())
        {
            if (token.ValueKind != JsonValueKind.Object || !token.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String
                || !token.TryGetProperty("id", out var id) || !id.TryGetInt32(out var value) || value < 0)
                throw new DataException(path, "an added_tokens entry lacks a string \"content\" or a non-negative \"id\"");
            if (Flag(token, "special")) special[content.GetString()!] = value;
        }
        return special;
    }

    private static FileTokenizer Finish(string path, string name, Func<Tokenizer> create, IEnumerable<int> ids, Dictionary<string, int> special,
        bool fuseUnknown = false, bool noPrefixBeforeSpace = false)
    {
        Tokenizer tokenizer;
        try
        {
            tokenizer = create();
        }
        catch (Exception e) when (TokenizerFile.IsLoadFailure(e))
        {
            throw new DataException(path, $"cannot load as a tokenizer: {e.Message}", e);
        }
        var modelIds = tokenizer is SentencePieceTokenizer sp ? sp.Vocabulary.Values : ids;
        var vocabSize = Math.Max(modelIds.DefaultIfEmpty(-1).Max(), special.Values.DefaultIfEmpty(-1).Max()) + 1;
        if (vocabSize < 1) throw new DataException(path, "the tokenizer has an empty vocabulary");
        int? eot = EndOfTextNames.Where(special.ContainsKey).Select(n => (int?)special[n]).FirstOrDefault();
        int? unk = fuseUnknown && tokenizer is SentencePieceTokenizer u && u.UnknownId >= 0 ? u.UnknownId : null;
        return new FileTokenizer(name, tokenizer, vocabSize, eot, path, unk, noPrefixBeforeSpace);
    }

    private static string? TypeOf(JsonElement e) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;

    private static bool Flag(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;

    private static string? StringOrNull(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
