using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Harness.Experiments.Data.Preparation;

/// <summary>
/// Character strings out of an R lazy-load database (<c>Rdata.rdb</c>): a concatenation of objects, each
/// a big-endian u32 uncompressed length then a zlib stream of R's XDR serialization. Strings are CHARSXP
/// records: u32 flags with type 9 in the low byte and no attribute/object/tag bits, an i32 length (−1 = NA),
/// then the UTF-8 bytes. Scanning for them yields, e.g., janeaustenr's novels line by line.
/// </summary>
public static class RdbStrings
{
    /// <summary>One list of strings per serialized object, in file order.</summary>
    /// <remarks>
    /// The compressed length of each object is not stored (only the .rdx index knows it), so objects are found
    /// by trying each offset whose bytes look like a length plus a zlib header and keeping those that
    /// decompress to exactly that length and start with XDR's "X\n" mark.
    /// </remarks>
    public static IReadOnlyList<IReadOnlyList<string>> Read(string path)
    {
        var file = File.ReadAllBytes(path);
        var objects = new List<IReadOnlyList<string>>();
        for (var at = 0; at + 6 < file.Length; at++)
        {
            if (file[at + 4] != 0x78 || ((file[at + 4] << 8) | file[at + 5]) % 31 != 0) continue;
            var length = BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(at));
            if (length < 2 || length > 1u << 28) continue;
            if (TryInflate(file, at + 4, (int)length) is { } plain) objects.Add(Strings(plain));
        }
        return objects;
    }

    private static byte[]? TryInflate(byte[] file, int start, int length)
    {
        try
        {
            using var input = new MemoryStream(file, start, file.Length - start);
            using var zlib = new ZLibStream(input, CompressionMode.Decompress);
            var plain = new byte[length];
            zlib.ReadExactly(plain);
            return plain[0] == (byte)'X' && plain[1] == (byte)'\n' ? plain : null;
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            return null;
        }
    }

    private static List<string> Strings(byte[] data)
    {
        var strings = new List<string>();
        for (var i = 0; i + 8 <= data.Length;)
        {
            var flags = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(i));
            if ((flags & 0xFF) == 9 && (flags & 0xF00) == 0 && flags < 0x100000)
            {
                var n = BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(i + 4));
                if (n == -1) { i += 8; continue; }
                if (n >= 0 && i + 8 + n <= data.Length)
                {
                    strings.Add(Encoding.UTF8.GetString(data, i + 8, n));
                    i += 8 + n;
                    continue;
                }
            }
            i++;
        }
        return strings;
    }
}
