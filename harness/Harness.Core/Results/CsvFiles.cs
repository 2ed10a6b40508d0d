using System.Globalization;
using System.Text;
using System.Text.Json;
using CsvHelper;
using CsvHelper.Configuration;

namespace Harness.Core.Results;

/// <summary>
/// CSV reading and writing for the result record types: invariant culture (a decimal point whatever the
/// user's locale), snake_case headers, whole-file writes made atomic, and readers that name the file
/// and row of anything they cannot parse.
/// </summary>
public static class CsvFiles
{
    private static readonly CsvConfiguration Config = new(CultureInfo.InvariantCulture)
    {
        HasHeaderRecord = true,
        NewLine = "\n",
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

    /// <summary>Reads every row; a malformed file gives a <see cref="ResultFormatException"/> naming it.</summary>
    public static IReadOnlyList<T> ReadAll<T>(string path)
    {
        try
        {
            using var reader = new StreamReader(path, Encoding.UTF8);
            using var csv = new CsvReader(reader, Config);
            csv.Context.RegisterClassMap(SnakeCaseMap<T>());
            return csv.GetRecords<T>().ToList();
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
