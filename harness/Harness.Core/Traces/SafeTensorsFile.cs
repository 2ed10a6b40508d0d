using System.Buffers.Binary;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace Harness.Core.Traces;

/// <summary>
/// Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header
/// (<c>name → {dtype, shape, data_offsets}</c>, plus an optional <c>__metadata__</c>), then the raw
/// little-endian tensor bytes. Our own reader, so a golden trace needs nothing but TorchSharp, and
/// every inconsistency is reported as a <see cref="TraceFormatException"/> instead of a native crash.
/// </summary>
public static class SafeTensorsFile
{
    // A header larger than this is corrupt rather than real: the format's own writers cap it at 100 MB.
    private const long MaxHeaderBytes = 100L * 1024 * 1024;

    /// <summary>Reads every tensor of a file as CPU tensors, by name. The caller owns (and disposes) them.</summary>
    public static Dictionary<string, Tensor> Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TraceFormatException(path, $"cannot be read ({e.Message})", e);
        }
        return Parse(path, bytes);
    }

    /// <summary>Parses the bytes of a safetensors file; <paramref name="path"/> is only used in messages.</summary>
    public static Dictionary<string, Tensor> Parse(string path, ReadOnlySpan<byte> bytes) => Parse(path, bytes, out _);

    /// <summary>As <see cref="Parse(string, ReadOnlySpan{byte})"/>, also returning the <c>__metadata__</c> strings (empty when absent).</summary>
    public static Dictionary<string, Tensor> Parse(string path, ReadOnlySpan<byte> bytes, out IReadOnlyDictionary<string, string> metadata)
    {
        // Tensor bytes are copied as they are; on a big-endian host they would need swapping.
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors data is little-endian; this host is not");
        var entries = ParseHeader(path, bytes, out var dataStart, out metadata);
        var data = bytes[(int)dataStart..];
        var result = new Dictionary<string, Tensor>(entries.Count, StringComparer.Ordinal);
        try
        {
            foreach (var e in entries)
                result[e.Name] = ToTensor(e, data[(int)e.Begin..(int)e.End]);
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
        return result;
    }

    /// <summary>Writes tensors (any device; copied to the CPU) in the safetensors format, names sorted.</summary>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors)
    {
        using var file = File.Create(path);
        Write(file, tensors, null);
    }

    /// <summary>Writes tensors and optional <c>__metadata__</c> strings to a stream (the caller flushes and closes it).</summary>
    public static void Write(Stream file, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var names = tensors.Keys.Order(StringComparer.Ordinal).ToList();
        var blobs = new List<byte[]>(names.Count);
        using var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var name in names)
            {
                var t = tensors[name];
                var code = DtypeCode(t.dtype)
                           ?? throw new ArgumentException($"tensor '{name}' has dtype {t.dtype}, which safetensors cannot hold here", nameof(tensors));
                using var cpu = t.detach().cpu().contiguous();
                var blob = cpu.bytes.ToArray();
                blobs.Add(blob);
                json.WriteStartObject(name);
                json.WriteString("dtype", code);
                json.WriteStartArray("shape");
                foreach (var d in t.shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + blob.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += blob.Length;
            }
            json.WriteEndObject();
        }
        // The format pads the header with spaces to an 8-byte boundary so the data is aligned.
        var headerLength = (header.Length + 7) / 8 * 8;
        while (header.Length < headerLength) header.WriteByte((byte)' ');

        Span<byte> lengthBytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(lengthBytes, (ulong)headerLength);
        file.Write(lengthBytes);
        header.Position = 0;
        header.CopyTo(file);
        foreach (var blob in blobs) file.Write(blob);
    }

    private sealed record Entry(string Name, string Dtype, ScalarType Type, long[] Shape, long Begin, long End);

    private static List<Entry> ParseHeader(string path, ReadOnlySpan<byte> bytes, out long dataStart, out IReadOnlyDictionary<string, string> metadata)
    {
        var meta = new Dictionary<string, string>(StringComparer.Ordinal);
        metadata = meta;
        if (bytes.Length < 8)
            throw new TraceFormatException(path, $"is {bytes.Length} bytes long, too short for the 8-byte header length");
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > MaxHeaderBytes || (long)headerLength > bytes.Length - 8)
            throw new TraceFormatException(path, $"header length {headerLength} does not fit in a file of {bytes.Length} bytes (truncated or not safetensors)");
        dataStart = 8 + (long)headerLength;
        var dataLength = bytes.Length - dataStart;

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes.Slice(8, (int)headerLength).ToArray());
        }
        catch (JsonException e)
        {
            throw new TraceFormatException(path, $"header is not valid JSON ({e.Message})", e);
        }

        var entries = new List<Entry>();
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new TraceFormatException(path, "header is not a JSON object");
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object)
                        throw new TraceFormatException(path, "__metadata__ is not a JSON object");
                    foreach (var m in prop.Value.EnumerateObject())
                        meta[m.Name] = m.Value.ValueKind == JsonValueKind.String
                            ? m.Value.GetString()!
                            : throw new TraceFormatException(path, $"__metadata__ entry '{m.Name}' is not a string");
                    continue;
                }
                entries.Add(ParseEntry(path, prop, dataLength));
            }
        }
        return entries;
    }

    private static Entry ParseEntry(string path, JsonProperty prop, long dataLength)
    {
        var name = prop.Name;
        var v = prop.Value;
        TraceFormatException Bad(string problem) => new(path, $"tensor '{name}': {problem}");

        if (v.ValueKind != JsonValueKind.Object) throw Bad("header entry is not an object");
        if (!v.TryGetProperty("dtype", out var dtypeEl) || dtypeEl.ValueKind != JsonValueKind.String)
            throw Bad("missing dtype");
        var dtype = dtypeEl.GetString()!;
        var (type, size) = dtype switch
        {
            "F32" => (ScalarType.Float32, 4),
            "F64" => (ScalarType.Float64, 8),
            "I64" => (ScalarType.Int64, 8),
            "I32" => (ScalarType.Int32, 4),
            "U8" => (ScalarType.Byte, 1),
            "I8" => (ScalarType.Int8, 1),
            "I16" => (ScalarType.Int16, 2),
            "BOOL" => (ScalarType.Bool, 1),
            "BF16" => (ScalarType.BFloat16, 2),
            "F16" => (ScalarType.Float16, 2),
            _ => throw Bad($"unsupported dtype '{dtype}' (supported: F32, F64, I64, I32, I16, I8, U8, BOOL, BF16, F16)"),
        };

        if (!v.TryGetProperty("shape", out var shapeEl) || shapeEl.ValueKind != JsonValueKind.Array)
            throw Bad("missing shape");
        var shape = new long[shapeEl.GetArrayLength()];
        long count = 1;
        var i = 0;
        foreach (var d in shapeEl.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var dim) || dim < 0)
                throw Bad($"shape[{i}] is not a non-negative integer");
            shape[i++] = dim;
            count = dim == 0 ? 0 : count > long.MaxValue / dim ? throw Bad("shape overflows") : count * dim;
        }

        if (!v.TryGetProperty("data_offsets", out var offEl) || offEl.ValueKind != JsonValueKind.Array || offEl.GetArrayLength() != 2)
            throw Bad("data_offsets must be [begin, end]");
        var begin = offEl[0].TryGetInt64(out var b) ? b : -1;
        var end = offEl[1].TryGetInt64(out var e) ? e : -1;
        if (begin < 0 || end < begin || end > dataLength)
            throw Bad($"data_offsets [{offEl[0]}, {offEl[1]}] fall outside the {dataLength} data bytes (truncated file?)");
        if (count > long.MaxValue / size || end - begin != count * size)
            throw Bad($"data_offsets span {end - begin} bytes but shape [{string.Join(",", shape)}] of {dtype} needs {count * size}");
        return new Entry(name, dtype, type, shape, begin, end);
    }

    private static Tensor ToTensor(Entry e, ReadOnlySpan<byte> data)
    {
        // Allocate, then copy the raw bytes in: the file is little-endian, as are the hosts we run on.
        var t = empty(e.Shape, e.Type, CPU);
        if (data.Length > 0) data.CopyTo(t.bytes);
        return t;
    }

    private static string? DtypeCode(ScalarType type) => type switch
    {
        ScalarType.Float32 => "F32",
        ScalarType.Float64 => "F64",
        ScalarType.Int64 => "I64",
        ScalarType.Int32 => "I32",
        ScalarType.Byte => "U8",
        ScalarType.Int8 => "I8",
        ScalarType.Int16 => "I16",
        ScalarType.Bool => "BOOL",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Float16 => "F16",
        _ => null,
    };
}
