using System.Globalization;
using System.Text;
using System.Text.Json;
using CsvHelper;
using CsvHelper.Configuration;

namespace Harness.Results;

/// <summary>
/// CSV reading and writing for the result record types: invariant culture (a decimal point whatever the
/// user's locale), snake_case headers, whole-file writes made atomic, and readers that name the file
/// and row of anything they cannot parse.
/// </summary>
public static class CsvFiles
{
    // Rows end in \n when written; reading accepts \n, \r\n and \r (CsvHelper detects the line ending when NewLine is
    // not set), so CSVs from elsewhere (Python's csv module ends rows in \r\n) read too.
    private static readonly CsvConfiguration Config = new(CultureInfo.InvariantCulture)
    {
        HasHeaderRecord = true,
        NewLine = "\n",
        MissingFieldFound = null,
    };

    private static readonly CsvConfiguration ReadConfig = new(CultureInfo.InvariantCulture)
    {
        HasHeaderRecord = true,
        MissingFieldFound = null,
    };

    private static ClassMap SnakeCaseMap<T>()
    {
        var map = new DefaultClassMap<T>();
        map.AutoMap(CultureInfo.InvariantCulture);
        foreach (var member in map.MemberMaps)
            member.Name(JsonNamingPolicy.SnakeCaseLower.ConvertName(member.Data.Member!.Name));
        return map;
    }

    private static CsvWriter Writer<T>(TextWriter text)
    {
        var csv = new CsvWriter(text, Config);
        csv.Context.RegisterClassMap(SnakeCaseMap<T>());
        return csv;
    }

    /// <summary>Writes all rows (header included) atomically.</summary>
    public static void WriteAll<T>(string path, IEnumerable<T> rows) =>
        AtomicFile.Write(path, s =>
        {
            using var text = new StreamWriter(s, new UTF8Encoding(false), leaveOpen: true);
            using var csv = Writer<T>(text);
            csv.WriteRecords(rows);
        });

    /// <summary>
    /// Reads every row. A file that is empty, ends in the middle of a row (truncated), has a row with
    /// another field count than its header, or holds values that do not parse gives a
    /// <see cref="ResultFormatException"/> naming it (and the row).
    /// </summary>
    public static IReadOnlyList<T> ReadAll<T>(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path, Encoding.UTF8);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ResultFormatException(path, $"cannot be read ({FirstLine(e.Message)})", e);
        }
        if (text.Length == 0) throw new ResultFormatException(path, "is empty (not even a header)");
        if (!text.EndsWith('\n')) throw new ResultFormatException(path, "ends in the middle of a row (truncated)");
        return Parse<T>(path, text);
    }

    /// <summary>
    /// Keeps the header and the rows whose <paramref name="keep"/> is true, rewriting the file atomically;
    /// a torn last row (a crash while appending) is dropped instead of rejected. Returns the rows kept.
    /// </summary>
    public static IReadOnlyList<T> Truncate<T>(string path, Func<T, bool> keep)
    {
        if (!File.Exists(path)) return [];
        var text = File.ReadAllText(path, Encoding.UTF8);
        var complete = text.LastIndexOf('\n') is var end and >= 0 ? text[..(end + 1)] : "";
        var rows = complete.Length == 0 ? [] : Parse<T>(path, complete).Where(keep).ToList();
        WriteAll(path, rows);
        return rows;
    }

    private static List<T> Parse<T>(string path, string text)
    {
        try
        {
            using var reader = new StringReader(text);
            using var csv = new CsvReader(reader, ReadConfig);
            csv.Context.RegisterClassMap(SnakeCaseMap<T>());
            if (!csv.Read() || !csv.ReadHeader()) throw new ResultFormatException(path, "has no header row");
            csv.ValidateHeader<T>();
            var width = csv.HeaderRecord!.Length;
            var rows = new List<T>();
            while (csv.Read())
            {
                if (csv.Parser.Count != width)
                    throw new ResultFormatException(path, $"row {csv.Parser.Row}: {csv.Parser.Count} fields, but the header has {width} (corrupt or truncated)");
                rows.Add(csv.GetRecord<T>());
            }
            return rows;
        }
        catch (CsvHelperException e)
        {
            var row = e.Context?.Parser?.Row;
            throw new ResultFormatException(path, $"row {row}: {FirstLine(e.Message)}", e);
        }
        catch (FormatException e)
        {
            throw new ResultFormatException(path, FirstLine(e.Message), e);
        }
    }

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();

    /// <summary>
    /// An append-only CSV whose every row is flushed to disk when written, so a killed process leaves all
    /// rows written so far (and never a half row, short of a crash inside the write itself).
    /// </summary>
    public sealed class Appender<T> : IDisposable
    {
        private readonly FileStream _stream;
        private readonly StreamWriter _text;
        private readonly CsvWriter _csv;

        public Appender(string path, bool truncate)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            _stream = new FileStream(path, truncate ? FileMode.Create : FileMode.Append, FileAccess.Write, FileShare.Read);
            var needsHeader = _stream.Length == 0;
            _text = new StreamWriter(_stream, new UTF8Encoding(false));
            _csv = Writer<T>(_text);
            if (needsHeader)
            {
                _csv.WriteHeader<T>();
                _csv.NextRecord();
                Flush();
            }
        }

        public void Append(T row)
        {
            _csv.WriteRecord(row);
            _csv.NextRecord();
            Flush();
        }

        private void Flush()
        {
            _csv.Flush();
            _text.Flush();
            _stream.Flush(flushToDisk: true);
        }

        public void Dispose()
        {
            _csv.Dispose();
            _text.Dispose();
            _stream.Dispose();
        }
    }
}
