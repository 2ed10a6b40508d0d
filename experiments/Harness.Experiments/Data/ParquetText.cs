using Parquet;
using Parquet.Schema;

namespace Harness.Experiments.Data;

/// <summary>Reads one string column of a Parquet file (e.g. the <c>text</c> column of Hugging Face dataset shards), one document per row.</summary>
public static class ParquetText
{
    /// <exception cref="DataException">The file is not Parquet, or has no such string column.</exception>
    public static IReadOnlyList<string> ReadColumn(string path, string column)
    {
        if (!File.Exists(path)) throw new DataException(path, "Parquet file not found");
        try
        {
            return ReadAsync(path, column).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is not DataException and (IOException or InvalidDataException or ParquetException or NotSupportedException or InvalidOperationException))
        {
            throw new DataException(path, $"cannot read as Parquet: {e.Message}", e);
        }
    }

    private static async Task<IReadOnlyList<string>> ReadAsync(string path, string column)
    {
        await using var reader = await ParquetReader.CreateAsync(path).ConfigureAwait(false);
        var fields = reader.Schema.GetDataFields();
        var field = fields.FirstOrDefault(f => f.Name == column)
            ?? throw new DataException(path, $"no column '{column}' (columns: {string.Join(", ", fields.Select(f => f.Name))}); set text_column");
        if (field.ClrType != typeof(string) && field.ClrType != typeof(ReadOnlyMemory<char>))
            throw new DataException(path, $"column '{column}' holds {field.ClrType.Name}, not text");
        var documents = new List<string>();
        for (var g = 0; g < reader.RowGroupCount; g++)
        {
            using var group = reader.OpenRowGroupReader(g);
            var values = new string?[group.RowCount];
            await group.ReadAsync(field, values.AsMemory()).ConfigureAwait(false);
            foreach (var v in values)
                if (!string.IsNullOrEmpty(v)) documents.Add(v);
        }
        return documents;
    }
}
