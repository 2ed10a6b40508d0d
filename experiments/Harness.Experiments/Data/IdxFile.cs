using System.Buffers.Binary;
using System.IO.Compression;

namespace Harness.Experiments.Data;

/// <summary>
/// The IDX format of MNIST and Fashion-MNIST: a big-endian u32 magic 0x0000 08 NN (unsigned bytes,
/// NN dimensions), NN big-endian u32 sizes, then the bytes. Gzip-compressed files (<c>.gz</c>, or
/// starting with the gzip magic) are read through <see cref="GZipStream"/>.
/// </summary>
public static class IdxFile
{
    /// <exception cref="DataException">Missing, wrong magic, or shorter than its dimensions say.</exception>
    public static (int[] Dimensions, byte[] Data) Read(string path)
    {
        if (!File.Exists(path)) throw new DataException(path, "IDX file not found");
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
            if (bytes.Length >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b)
            {
                using var gzip = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
                using var plain = new MemoryStream();
                gzip.CopyTo(plain);
                bytes = plain.ToArray();
            }
        }
        catch (InvalidDataException e)
        {
            throw new DataException(path, $"corrupt gzip stream: {e.Message}", e);
        }
        if (bytes.Length < 4) throw new DataException(path, $"truncated: {bytes.Length} bytes, shorter than the IDX magic");
        var magic = BinaryPrimitives.ReadUInt32BigEndian(bytes);
        var rank = (int)(magic & 0xFF);
        if ((magic & 0xFFFFFF00) != 0x00000800 || rank is < 1 or > 4)
            throw new DataException(path, $"wrong magic number 0x{magic:X8} (expected 0x0000080N: unsigned-byte IDX with N dimensions)");
        if (bytes.Length < 4 + 4 * rank) throw new DataException(path, "truncated inside the IDX header");
        var dims = new int[rank];
        long total = 1;
        for (var i = 0; i < rank; i++)
        {
            dims[i] = checked((int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(4 + 4 * i)));
            total *= dims[i];
        }
        var offset = 4 + 4 * rank;
        if (bytes.Length - offset < total)
            throw new DataException(path, $"truncated: the header says {string.Join("x", dims)} = {total} bytes of data but the file has {bytes.Length - offset}");
        return (dims, bytes.AsSpan(offset, checked((int)total)).ToArray());
    }

    /// <summary>Writes an unsigned-byte IDX file (uncompressed); used to build test fixtures and subsets.</summary>
    public static void Write(string path, int[] dimensions, ReadOnlySpan<byte> data)
    {
        ArgumentNullException.ThrowIfNull(dimensions);
        using var stream = File.Create(path);
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(word, 0x800u | (uint)dimensions.Length);
        stream.Write(word);
        foreach (var d in dimensions)
        {
            BinaryPrimitives.WriteUInt32BigEndian(word, (uint)d);
            stream.Write(word);
        }
        stream.Write(data);
    }
}
