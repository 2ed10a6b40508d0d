using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Text;

namespace Harness.Experiments.Data;

/// <summary>
/// A memory-mapped file of uint16 token ids, in one of two layouts:
/// <list type="bullet">
/// <item>llm.c / modded-nanogpt: a header of 256 little-endian int32 — [0] magic 20240520, [1] version 1,
/// [2] token count — then the tokens. The harness writes this layout and adds its own fields in slots
/// llm.c leaves zero: [3] vocabulary size, [4] the marker 0x534E5248 ("HRNS"), bytes 20..83 the tokenizer
/// name, bytes 84..147 the source hash (ASCII, zero-padded) and bytes 148..151 the first validation token of a
/// corpus held out by document (0: none). llm.c readers ignore them.</item>
/// <item>nanoGPT <c>train.bin</c>/<c>val.bin</c>: no header, the whole file is tokens.</item>
/// </list>
/// Reading never loads the file: windows are copied out of the mapping on demand.
/// </summary>
public sealed class TokenFile : IDisposable
{
    public const int Magic = 20240520;
    public const int HeaderBytes = 256 * sizeof(int);

    /// <summary>The most ids a uint16 token file can hold.</summary>
    public const int MaxVocabSize = ushort.MaxValue + 1;
    private const int Marker = 0x534E5248;
    private const int NameOffset = 20, HashOffset = 84, FieldBytes = 64, ValidationOffset = 148;

    private readonly MemoryMappedFile map;
    private readonly MemoryMappedViewAccessor view;
    private readonly long dataOffset;

    private TokenFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, long dataOffset, long count, TokenFileInfo? info)
    {
        FilePath = path;
        this.map = map;
        this.view = view;
        this.dataOffset = dataOffset;
        Count = count;
        Info = info;
    }

    public string FilePath { get; }

    /// <summary>Whether the file has an llm.c header.</summary>
    public bool HasHeader => dataOffset > 0;

    public long Count { get; }

    /// <summary>The harness's fields when the header carries them; null for headerless or plain llm.c files.</summary>
    public TokenFileInfo? Info { get; }

    /// <summary>Opens and checks a token file; <paramref name="requireHeader"/> refuses headerless files (the cache's own files always have one).</summary>
    /// <exception cref="DataException">Missing, empty, truncated, or (with a header required) a wrong magic number.</exception>
    public static TokenFile Open(string path, bool requireHeader = false)
    {
        if (!File.Exists(path)) throw new DataException(path, "token file not found");
        var length = new FileInfo(path).Length;
        if (length == 0) throw new DataException(path, "token file is empty");
        Span<byte> head = stackalloc byte[HeaderBytes];
        int read;
        using (var stream = File.OpenRead(path)) read = stream.ReadAtLeast(head, HeaderBytes, throwOnEndOfStream: false);
        var magic = read >= 4 ? BinaryPrimitives.ReadInt32LittleEndian(head) : 0;
        long offset, count;
        TokenFileInfo? info = null;
        if (magic == Magic)
        {
            if (read < HeaderBytes)
                throw new DataException(path, $"truncated: {length} bytes is shorter than the {HeaderBytes}-byte llm.c header");
            var version = BinaryPrimitives.ReadInt32LittleEndian(head[4..]);
            if (version != 1)
                throw new DataException(path, $"unsupported token file version {version} (only version 1, uint16 tokens, is read)");
            count = BinaryPrimitives.ReadInt32LittleEndian(head[8..]);
            offset = HeaderBytes;
            if (count < 0 || offset + 2 * count > length)
                throw new DataException(path, $"truncated: the header says {count} tokens ({HeaderBytes + 2 * count} bytes) but the file has {length} bytes");
            if (BinaryPrimitives.ReadInt32LittleEndian(head[16..]) == Marker)
            {
                var validation = BinaryPrimitives.ReadInt32LittleEndian(head[ValidationOffset..]);
                if (validation < 0 || validation >= count)
                    throw new DataException(path, $"the header's validation start {validation} is outside the {count} tokens");
                info = new TokenFileInfo(Field(head, NameOffset), BinaryPrimitives.ReadInt32LittleEndian(head[12..]), Field(head, HashOffset),
                    validation > 0 ? validation : null);
            }
        }
        else if (requireHeader)
        {
            throw new DataException(path, $"wrong magic number {magic} (expected {Magic}, an llm.c token file header)");
        }
        else
        {
            if (length % 2 != 0)
                throw new DataException(path, $"truncated: a headerless (nanoGPT) token file holds uint16 tokens, but it has an odd byte count ({length})");
            offset = 0;
            count = length / 2;
        }
        if (count == 0) throw new DataException(path, "token file holds no tokens");
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        return new TokenFile(path, map, view, offset, count, info);
    }

    private static string Field(ReadOnlySpan<byte> header, int offset)
    {
        var bytes = header.Slice(offset, FieldBytes);
        var end = bytes.IndexOf((byte)0);
        return Encoding.ASCII.GetString(end < 0 ? bytes : bytes[..end]);
    }

    /// <summary>Token <paramref name="index"/>.</summary>
    public int this[long index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
            return view.ReadUInt16(dataOffset + 2 * index);
        }
    }

    /// <summary>Copies tokens [start, start + destination.Length) out of the mapping.</summary>
    public void CopyTo(long start, Span<ushort> destination)
    {
        if (start < 0 || start + destination.Length > Count)
            throw new ArgumentOutOfRangeException(nameof(start), $"tokens [{start}, {start + destination.Length}) are outside [0, {Count})");
        var buffer = new ushort[destination.Length];
        view.ReadArray(dataOffset + 2 * start, buffer, 0, buffer.Length);
        buffer.CopyTo(destination);
    }

    /// <summary>The largest id in the file (one pass), to check it fits the tokenizer's vocabulary.</summary>
    public int MaxToken()
    {
        var max = 0;
        var chunk = new ushort[1 << 16];
        for (long at = 0; at < Count; at += chunk.Length)
        {
            var n = (int)Math.Min(chunk.Length, Count - at);
            view.ReadArray(dataOffset + 2 * at, chunk, 0, n);
            foreach (var t in chunk.AsSpan(0, n)) if (t > max) max = t;
        }
        return max;
    }

    /// <summary>Writes tokens with the llm.c header and the harness's fields, atomically (temporary file, then rename).</summary>
    public static void Write(string path, ReadOnlySpan<int> tokens, TokenFileInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        if (info.VocabSize > MaxVocabSize)
            throw new ArgumentException($"tokenizer '{info.Tokenizer}' has {info.VocabSize} ids, more than uint16 holds", nameof(info));
        var header = new byte[HeaderBytes];
        BinaryPrimitives.WriteInt32LittleEndian(header, Magic);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(4), 1);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), tokens.Length);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(12), info.VocabSize);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(16), Marker);
        PutField(header, NameOffset, info.Tokenizer);
        PutField(header, HashOffset, info.SourceHash);
        if (info.ValidationStart is { } start)
        {
            if (start <= 0 || start >= tokens.Length)
                throw new ArgumentOutOfRangeException(nameof(info), $"validation start {start} must be inside the {tokens.Length} tokens");
            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(ValidationOffset), start);
        }
        var body = new byte[2L * tokens.Length];
        for (var i = 0; i < tokens.Length; i++)
        {
            if ((uint)tokens[i] >= (uint)info.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), $"token {tokens[i]} at {i} is outside the vocabulary [0, {info.VocabSize})");
            BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(2 * i), (ushort)tokens[i]);
        }
        var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temporary = System.IO.Path.Combine(directory, $".{System.IO.Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        using (var stream = File.Create(temporary))
        {
            stream.Write(header);
            stream.Write(body);
        }
        File.Move(temporary, path, overwrite: true);
    }

    private static void PutField(byte[] header, int offset, string value)
    {
        var bytes = Encoding.ASCII.GetBytes(value);
        if (bytes.Length > FieldBytes) throw new ArgumentException($"'{value}' is longer than {FieldBytes} bytes", nameof(value));
        bytes.CopyTo(header, offset);
    }

    public void Dispose()
    {
        view.Dispose();
        map.Dispose();
    }
}
