using System.IO.Compression;
using System.Text;
using System.Text.Json;

namespace Harness.Experiments.Data;

/// <summary>
/// Reads JSON-lines text shards (C4's <c>c4-train.00000-of-01024.json.gz</c>, <c>.jsonl</c>, plain or gzip): one
/// JSON object per line, one document per object, the text in a string field (C4's <c>text</c>). The file is
/// streamed line by line, never held whole; blank lines and empty texts are skipped. A line that is not a JSON
/// object, lacks the field, or holds a non-string there is a <see cref="DataException"/> naming file and line.
/// </summary>
public static class JsonLinesText
{
    private static readonly string[] Extensions = [".jsonl", ".json", ".jsonl.gz", ".json.gz"];

    /// <summary>Whether <paramref name="path"/> names a JSON-lines file (<c>.json</c>, <c>.jsonl</c>, each optionally <c>.gz</c>).</summary>
    public static bool IsJsonLines(string path) =>
        Extensions.Any(e => path.EndsWith(e, StringComparison.OrdinalIgnoreCase));

    /// <summary>The documents of one shard, lazily, in file order.</summary>
    /// <exception cref="DataException">The file is missing, not gzip (for <c>.gz</c>), or a line is malformed (raised while enumerating).</exception>
    public static IEnumerable<string> ReadDocuments(string path, string field)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentException.ThrowIfNullOrEmpty(field);
        if (!File.Exists(path)) throw new DataException(path, "JSON-lines file not found");
        return Enumerate(path, field);
    }

    private static IEnumerable<string> Enumerate(string path, string field)
    {
        using var reader = Open(path);
        long line = 0;
        while (NextLine(reader, path, line) is { } text)
        {
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            var document = Parse(text, field, path, line);
            if (document.Length > 0) yield return document;
        }
    }

    private static StreamReader Open(string path)
    {
        Stream stream = File.OpenRead(path);
        if (path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)) stream = new GZipStream(stream, CompressionMode.Decompress);
        return new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
    }

    private static string? NextLine(StreamReader reader, string path, long linesRead)
    {
        try
        {
            return reader.ReadLine();
        }
        catch (InvalidDataException e)
        {
            throw new DataException(path, linesRead + 1, $"cannot decompress (not gzip, or corrupt): {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new DataException(path, linesRead + 1, $"cannot read: {e.Message}", e);
        }
    }

    private static string Parse(string text, string field, string path, long line)
    {
        try
        {
            using var json = JsonDocument.Parse(text);
            var root = json.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new DataException(path, line, $"a JSON {Kind(root.ValueKind)}, not an object; a JSON-lines shard holds one object per line (a JSON array file is not read)");
            if (!root.TryGetProperty(field, out var value))
            {
                var names = root.EnumerateObject().Select(p => p.Name).Take(8).ToList();
                throw new DataException(path, line, $"no field '{field}' (fields: {(names.Count == 0 ? "none" : string.Join(", ", names))}); set text_column");
            }
            if (value.ValueKind != JsonValueKind.String)
                throw new DataException(path, line, $"field '{field}' holds a JSON {Kind(value.ValueKind)}, not a string");
            return value.GetString()!;
        }
        catch (JsonException e)
        {
            throw new DataException(path, line, $"malformed JSON: {e.Message}", e);
        }
    }

    private static string Kind(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString().ToLowerInvariant(),
    };
}
