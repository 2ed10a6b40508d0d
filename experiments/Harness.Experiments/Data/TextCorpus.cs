using System.Security.Cryptography;
using System.Text;

namespace Harness.Experiments.Data;

/// <summary>
/// Turns a <c>corpus:</c> value into a split token stream. The value is, in this order: a bundled corpus
/// (<c>moby-dick</c>), a prepared one (<c>prose</c>, built by <c>harness data prepare</c> into the
/// cache), or a path relative to the config file: a text file, a glob of text files, a nanoGPT or llm.c
/// <c>.bin</c>, Parquet files with a text column, or JSON-lines shards (C4's <c>.json.gz</c>; streamed, one document
/// per line, the text in the field named by <c>text_column</c>). Text is tokenized once into a token file in the
/// cache (keyed by the source's SHA-256 and the tokenizer) and memory-mapped afterwards; without a
/// cache directory it is tokenized in memory. Documents are separated by the tokenizer's end-of-text id
/// (or a blank line for tokenizers without one).
/// </summary>
public static class TextCorpus
{
    /// <summary>Whether <paramref name="corpus"/> could name something: a known corpus or a path-like value.</summary>
    public static bool LooksValid(string corpus) =>
        CorpusCatalog.Find(corpus) is not null || PreparedData.Find(corpus) is { Kind: PreparedKind.Text }
        || corpus.IndexOfAny(['/', '\\', '*', '?']) >= 0 || Path.HasExtension(corpus);

    /// <exception cref="DataException">A file is missing, empty, malformed, or the corpus is too short for one window.</exception>
    public static TokenStream Load(string corpus, string textColumn, ITokenizer tokenizer, double valFraction, int window, DataLocations where)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(where);
        if (CorpusCatalog.Find(corpus) is not null)
        {
            var text = CorpusCatalog.ReadText(corpus);
            if (where.CacheDirectory is null) return TokenStream.Encode(text, tokenizer, valFraction, window);
            return Split(Cached(corpus, [text], tokenizer, where.CacheDirectory), tokenizer, valFraction, window, corpus, ownsOnError: true);
        }
        if (PreparedData.Find(corpus) is { Kind: PreparedKind.Text } prepared)
        {
            var path = prepared.TokenFilePath(where.CacheDirectory
                ?? throw new DataException(corpus, "prepared corpora live in the cache, and no cache directory was given"));
            if (!File.Exists(path))
                throw new DataException(path, $"corpus '{corpus}' is not prepared; run `./run.sh data prepare {corpus}` first");
            return FromTokenFile(path, tokenizer, valFraction, window);
        }

        var resolved = where.Resolve(corpus);
        IReadOnlyList<string> files = FileGlob.IsPattern(resolved) ? FileGlob.Expand(resolved) : [resolved];
        foreach (var f in files)
            if (!File.Exists(f)) throw new DataException(f, "corpus file not found");
        var bins = files.Where(f => f.EndsWith(".bin", StringComparison.OrdinalIgnoreCase)).ToList();
        if (bins.Count > 0)
        {
            if (files.Count > 1)
                throw new DataException(resolved, $"matches {files.Count} files including token files; name exactly one .bin (e.g. train.bin)");
            return FromTokenFile(bins[0], tokenizer, valFraction, window);
        }

        IEnumerable<string> documents = files.SelectMany(f => FileDocuments(f, textColumn));
        if (where.CacheDirectory is null)
            return Split(Encode(documents, tokenizer), tokenizer, valFraction, window, resolved);
        return Split(Cached(Path.GetFileNameWithoutExtension(files[0]), documents, tokenizer, where.CacheDirectory), tokenizer, valFraction, window, resolved, ownsOnError: true);
    }

    /// <summary>
    /// The documents of one file, lazily: a Parquet file's rows, a JSON-lines shard's objects (streamed), or a
    /// whole text file; a file without any text is an error.
    /// </summary>
    private static IEnumerable<string> FileDocuments(string file, string textColumn)
    {
        IEnumerable<string> documents =
            file.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase) ? ParquetText.ReadColumn(file, textColumn)
            : JsonLinesText.IsJsonLines(file) ? JsonLinesText.ReadDocuments(file, textColumn)
            : [ReadText(file)];
        var any = false;
        foreach (var d in documents)
        {
            any |= !string.IsNullOrWhiteSpace(d);
            yield return d;
        }
        if (!any) throw new DataException(file, "empty corpus: no text in this file");
    }

    private static string ReadText(string path)
    {
        try
        {
            return File.ReadAllText(path, Encoding.UTF8);
        }
        catch (IOException e)
        {
            throw new DataException(path, $"cannot read: {e.Message}", e);
        }
    }

    /// <summary>Opens a token file and checks its ids fit the tokenizer (and the tokenizer it was written with, if recorded).</summary>
    private static TokenStream FromTokenFile(string path, ITokenizer tokenizer, double valFraction, int window)
    {
        var file = TokenFile.Open(path);
        try
        {
            if (file.Info is { } info && info.Tokenizer != tokenizer.Name)
                throw new DataException(path, $"was tokenized with '{info.Tokenizer}' but the workload uses tokenizer '{tokenizer.Name}'");
            var max = file.MaxToken();
            if (max >= tokenizer.VocabSize)
                throw new DataException(path, $"holds token id {max}, outside tokenizer '{tokenizer.Name}' ({tokenizer.VocabSize} ids)");
            return Split(file, tokenizer, valFraction, window, path, ownsOnError: true);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static TokenStream Split(TokenFile file, ITokenizer tokenizer, double valFraction, int window, string label, bool ownsOnError)
    {
        try
        {
            return new TokenStream(file, tokenizer.VocabSize, valFraction, window);
        }
        catch (ArgumentException e)
        {
            if (ownsOnError) file.Dispose();
            throw new DataException(label, $"sequence longer than the corpus: {e.Message}", e);
        }
    }

    private static TokenStream Split(int[] tokens, ITokenizer tokenizer, double valFraction, int window, string label)
    {
        try
        {
            return new TokenStream(tokens, tokenizer.VocabSize, valFraction, window);
        }
        catch (ArgumentException e)
        {
            throw new DataException(label, $"sequence longer than the corpus: {e.Message}", e);
        }
    }

    /// <summary>
    /// Documents tokenized one at a time (a document is never merged with its neighbour) and joined by the
    /// end-of-text id, or by the tokens of a blank line for tokenizers without one. Enumerated once.
    /// </summary>
    public static int[] Encode(IEnumerable<string> documents, ITokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(documents);
        ArgumentNullException.ThrowIfNull(tokenizer);
        int[] separator = tokenizer.EndOfText is { } eot ? [eot] : tokenizer.Encode("\n\n");
        var ids = new List<int>();
        var first = true;
        foreach (var document in documents)
        {
            if (!first) ids.AddRange(separator);
            first = false;
            ids.AddRange(tokenizer.Encode(document));
        }
        return [.. ids];
    }

    /// <summary>SHA-256 (hex) over the documents and their boundaries: the cache key of a text source.</summary>
    public static string SourceHash(IEnumerable<string> documents)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> length = stackalloc byte[8];
        foreach (var d in documents)
        {
            var bytes = Encoding.UTF8.GetBytes(d);
            BitConverter.TryWriteBytes(length, (long)bytes.Length);
            sha.AppendData(length);
            sha.AppendData(bytes);
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>
    /// The cached token file of these documents, written on first use (tokenize once). The documents are
    /// enumerated twice on a miss (hash, then tokenize), so a large shard is streamed rather than held.
    /// </summary>
    private static TokenFile Cached(string label, IEnumerable<string> documents, ITokenizer tokenizer, string cacheDirectory)
    {
        if (tokenizer.VocabSize > TokenFile.MaxVocabSize)
            throw new DataException(label, $"tokenizer '{tokenizer.Name}' has {tokenizer.VocabSize:N0} ids, but token files hold uint16 ids (at most {TokenFile.MaxVocabSize:N0})");
        var hash = SourceHash(documents);
        var slug = new string([.. label.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_')]);
        var path = Path.Combine(cacheDirectory, "tokens", $"{slug}-{tokenizer.Name}-{hash[..16]}.bin");
        if (File.Exists(path))
        {
            var existing = TokenFile.Open(path, requireHeader: true);
            if (existing.Info is { } info && info.SourceHash == hash && info.Tokenizer == tokenizer.Name) return existing;
            existing.Dispose();
        }
        var tokens = Encode(documents, tokenizer);
        if (tokens.Length == 0) throw new DataException(label, "empty corpus: it tokenizes to no tokens");
        TokenFile.Write(path, tokens, new TokenFileInfo(tokenizer.Name, tokenizer.VocabSize, hash));
        return TokenFile.Open(path, requireHeader: true);
    }
}
