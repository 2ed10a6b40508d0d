using System.Buffers.Binary;
using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;

namespace Harness.Experiments.Data.Preparation;

/// <summary>
/// Plain text out of a compressed SWORD module (zText / zCom, data.md §2.3). Each testament (<c>ot</c>, <c>nt</c>)
/// has three files, with <c>b</c> (book blocks) or <c>c</c> (chapter blocks) as the first letter of the extension:
/// <c>.?zs</c> the block index (12-byte records: u32 offset, u32 compressed size, u32 uncompressed size, little-endian),
/// <c>.?zz</c> the zlib blocks, <c>.?zv</c> the verse index (u32 block, u32 offset in the inflated block, then a
/// u16 size = 10 bytes, or a u32 size = 12 bytes in zCom4 modules such as tdavid).
/// </summary>
public static partial class SwordModule
{
    /// <summary>The module's entries in verse order (OT then NT), raw markup, repeated (block, offset, size) entries kept once.</summary>
    /// <remarks>
    /// The verse-record width is the one (12 or 10 bytes) under which the file length divides evenly and every
    /// non-empty entry lies inside an existing block; 12 is tried first. A module's <c>.conf</c> is not trusted for this
    /// (mhcc says zCom4 but has 10-byte records).
    /// </remarks>
    /// <exception cref="DataException">A file is missing, truncated, inconsistent or not zlib.</exception>
    public static IReadOnlyList<string> ReadEntries(string directory)
    {
        var entries = new List<string>();
        var found = false;
        foreach (var testament in new[] { "ot", "nt" })
        {
            var letter = new[] { 'b', 'c' }.FirstOrDefault(l => File.Exists(Path.Combine(directory, $"{testament}.{l}zv")));
            if (letter == default) continue;
            found = true;
            var stem = Path.Combine(directory, $"{testament}.{letter}z");
            var blocks = ReadBlockIndex(stem + "s");
            var data = File.Exists(stem + "z") ? File.ReadAllBytes(stem + "z")
                : throw new DataException(stem + "z", "the block data file is missing");
            var verses = ReadVerseIndex(stem + "v", blocks);
            var inflated = new Dictionary<uint, byte[]>();
            var seen = new HashSet<(uint, uint, uint)>();
            foreach (var v in verses)
            {
                if (v.Size == 0 || !seen.Add(v)) continue;
                if (!inflated.TryGetValue(v.Block, out var plain))
                    inflated[v.Block] = plain = Inflate(data, blocks[(int)v.Block], stem + "z", v.Block);
                entries.Add(Encoding.UTF8.GetString(plain, (int)v.Offset, (int)v.Size));
            }
        }
        if (!found) throw new DataException(directory, "no SWORD verse index (ot/nt .bzv or .czv) in this folder");
        return entries;
    }

    /// <summary>The whole module as plain text: <see cref="ReadEntries"/> each stripped by <see cref="StripMarkup"/>, one entry per line group.</summary>
    /// <exception cref="DataException">See <see cref="ReadEntries"/>.</exception>
    public static string ReadText(string directory) =>
        CollapseLines(string.Join("\n", ReadEntries(directory).Select(StripMarkup)));

    /// <summary>
    /// OSIS/ThML to plain text: notes (<c>&lt;note…&gt;…&lt;/note&gt;</c>) are dropped, line-level elements
    /// (<c>lb</c>, <c>br</c>, <c>p</c>, <c>l</c>, <c>lg</c>, <c>div</c>, and headings, list items and table rows and cells:
    /// <c>title</c>, <c>item</c>, <c>row</c>, <c>cell</c>, <c>chapter</c>) become line breaks, other tags vanish, entities are decoded,
    /// trailing spaces trimmed and blank lines removed.
    /// </summary>
    public static string StripMarkup(string markup)
    {
        ArgumentNullException.ThrowIfNull(markup);
        var text = NoteElement().Replace(markup, "");
        text = LineTag().Replace(text, "\n");
        text = AnyTag().Replace(text, "");
        return CollapseLines(WebUtility.HtmlDecode(text));
    }

    private static string CollapseLines(string text) =>
        string.Join("\n", text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0));

    private readonly record struct Block(uint Offset, uint CompressedSize, uint Size);

    private static Block[] ReadBlockIndex(string path)
    {
        if (!File.Exists(path)) throw new DataException(path, "the block index file is missing");
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length % 12 != 0) throw new DataException(path, $"block index is {bytes.Length} bytes, not a whole number of 12-byte records (truncated?)");
        var blocks = new Block[bytes.Length / 12];
        for (var i = 0; i < blocks.Length; i++)
        {
            var r = bytes.AsSpan(i * 12);
            blocks[i] = new Block(BinaryPrimitives.ReadUInt32LittleEndian(r), BinaryPrimitives.ReadUInt32LittleEndian(r[4..]),
                BinaryPrimitives.ReadUInt32LittleEndian(r[8..]));
        }
        return blocks;
    }

    private static List<(uint Block, uint Offset, uint Size)> ReadVerseIndex(string path, Block[] blocks)
    {
        var bytes = File.ReadAllBytes(path);
        foreach (var width in new[] { 12, 10 })
        {
            if (bytes.Length % width != 0) continue;
            var verses = new List<(uint, uint, uint)>(bytes.Length / width);
            var valid = true;
            for (var at = 0; at < bytes.Length && valid; at += width)
            {
                var r = bytes.AsSpan(at, width);
                var block = BinaryPrimitives.ReadUInt32LittleEndian(r);
                var offset = BinaryPrimitives.ReadUInt32LittleEndian(r[4..]);
                var size = width == 12 ? BinaryPrimitives.ReadUInt32LittleEndian(r[8..]) : BinaryPrimitives.ReadUInt16LittleEndian(r[8..]);
                valid = size == 0 || (block < blocks.Length && (ulong)offset + size <= blocks[block].Size);
                verses.Add((block, offset, size));
            }
            if (valid) return verses;
        }
        throw new DataException(path, $"verse index of {bytes.Length} bytes fits neither 10- nor 12-byte records pointing into the {blocks.Length} blocks (truncated?)");
    }

    private static byte[] Inflate(byte[] data, Block block, string path, uint number)
    {
        if ((ulong)block.Offset + block.CompressedSize > (ulong)data.Length)
            throw new DataException(path, $"block {number} ends at byte {(ulong)block.Offset + block.CompressedSize}, past the end of the file ({data.Length} bytes; truncated?)");
        try
        {
            using var input = new MemoryStream(data, (int)block.Offset, (int)block.CompressedSize);
            using var zlib = new ZLibStream(input, CompressionMode.Decompress);
            var plain = new byte[block.Size];
            zlib.ReadExactly(plain);
            return plain;
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
        {
            throw new DataException(path, $"block {number} is not a zlib stream of {block.Size} bytes", e);
        }
    }

    [GeneratedRegex(@"<note\b[^>]*/>|<note\b[^>]*>.*?</note\s*>", RegexOptions.Singleline | RegexOptions.IgnoreCase)]
    private static partial Regex NoteElement();

    [GeneratedRegex(@"</?(?:lb|br|p|l|lg|div|title|item|row|cell|chapter)\b[^>]*>", RegexOptions.IgnoreCase)]
    private static partial Regex LineTag();

    [GeneratedRegex(@"<[^>]*>")]
    private static partial Regex AnyTag();
}
