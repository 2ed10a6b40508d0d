using Harness.Experiments.Data;
using Harness.Tests.Core;
using Parquet;
using Parquet.Schema;

namespace Harness.Tests.Data;

public sealed class TextCorpusTests
{
    private static readonly ByteTokenizer Bytes = new();

    [Fact]
    public void A_relative_text_path_is_tokenized_once_into_the_cache_and_mapped_afterwards()
    {
        using var dir = new TestConfigs.TempDir();
        var text = string.Concat(Enumerable.Repeat("call me ishmael. ", 100));
        File.WriteAllText(Path.Combine(dir.Path, "book.txt"), text);
        var where = new DataLocations(dir.Path, Path.Combine(dir.Path, "cache"));
        using (var first = TextCorpus.Load("book.txt", "text", Bytes, 0.1, 17, where))
        {
            Assert.Equal(text.Length, first.Count);
            Assert.NotNull(first.File);
            var window = new long[5];
            first.CopyWindow(0, window);
            Assert.Equal("call ".Select(c => (long)c), window);
        }
        var cached = Assert.Single(Directory.GetFiles(Path.Combine(dir.Path, "cache", "tokens")));
        var written = File.GetLastWriteTimeUtc(cached);
        using (var second = TextCorpus.Load("book.txt", "text", Bytes, 0.1, 17, where))
            Assert.Equal(text.Length, second.Count);
        Assert.Equal(written, File.GetLastWriteTimeUtc(cached));
        using var inMemory = TextCorpus.Load("book.txt", "text", Bytes, 0.1, 17, where with { CacheDirectory = null });
        Assert.Null(inMemory.File);
        Assert.Equal(Bytes.Encode(text), inMemory.All.ToArray());
    }

    [Fact]
    public void A_glob_joins_files_in_name_order_with_end_of_text_between_documents()
    {
        using var dir = new TestConfigs.TempDir();
        Directory.CreateDirectory(Path.Combine(dir.Path, "docs"));
        File.WriteAllText(Path.Combine(dir.Path, "docs", "b.txt"), new string('b', 300));
        File.WriteAllText(Path.Combine(dir.Path, "docs", "a.txt"), new string('a', 300));
        var gpt2 = Gpt2Tokenizer.Create();
        using var s = TextCorpus.Load("docs/*.txt", "text", gpt2, 0.2, 9, new DataLocations(dir.Path, null));
        var ids = s.All.ToArray();
        var eot = Array.IndexOf(ids, 50256);
        Assert.True(eot > 0);
        Assert.Equal(new string('a', 300), gpt2.Decode(ids[..eot]));
        Assert.Equal(new string('b', 300), gpt2.Decode(ids[(eot + 1)..]));
    }

    [Fact]
    public async Task Parquet_text_column_is_read_and_a_missing_column_is_named()
    {
        using var dir = new TestConfigs.TempDir();
        var path = Path.Combine(dir.Path, "shard.parquet");
        var field = new DataField<string>("text");
        await using (var stream = File.Create(path))
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(field), stream))
        using (var group = writer.CreateRowGroup())
            await group.WriteAsync(field, ["first document here. ", "second document there. "]);
        using var s = TextCorpus.Load("shard.parquet", "text", Bytes, 0.2, 5, new DataLocations(dir.Path, null));
        Assert.Equal("first document here. \n\nsecond document there. ", Bytes.Decode(s.All.ToArray()));
        var e = Assert.Throws<DataException>(() => TextCorpus.Load("shard.parquet", "content", Bytes, 0.2, 5, new DataLocations(dir.Path, null)));
        Assert.Equal(path, e.Path);
        Assert.Contains("no column 'content' (columns: text)", e.Message);
    }

    [Fact]
    public void Bad_corpora_give_data_errors_naming_the_file()
    {
        using var dir = new TestConfigs.TempDir();
        var where = new DataLocations(dir.Path, null);
        string P(string n) => Path.Combine(dir.Path, n);

        Assert.Equal($"{P("gone.txt")}: corpus file not found",
            Assert.Throws<DataException>(() => TextCorpus.Load("gone.txt", "text", Bytes, 0.1, 9, where)).Message);
        Assert.Contains("no file matches", Assert.Throws<DataException>(() => TextCorpus.Load("*.md", "text", Bytes, 0.1, 9, where)).Message);

        File.WriteAllText(P("blank.txt"), "  \n");
        Assert.Contains("empty corpus", Assert.Throws<DataException>(() => TextCorpus.Load("blank.txt", "text", Bytes, 0.1, 9, where)).Message);

        File.WriteAllText(P("short.txt"), "too short for the window");
        var shortCorpus = Assert.Throws<DataException>(() => TextCorpus.Load("short.txt", "text", Bytes, 0.1, 129, where));
        Assert.Equal(P("short.txt"), shortCorpus.Path);
        Assert.Contains("sequence longer than the corpus", shortCorpus.Message);

        File.WriteAllBytes(P("big.bin"), [0, 1, 0, 1, 0, 1, 0, 1]); // ids 256: outside the byte vocabulary
        Assert.Contains("holds token id 256, outside tokenizer 'byte'",
            Assert.Throws<DataException>(() => TextCorpus.Load("big.bin", "text", Bytes, 0.25, 2, where)).Message);

        var prepared = Assert.Throws<DataException>(() => TextCorpus.Load("prose", "text", Bytes, 0.1, 9, new DataLocations(dir.Path, P("cache"))));
        Assert.Contains("run `./run.sh data prepare prose` first", prepared.Message);
    }

    [Fact]
    public void A_nanogpt_bin_is_split_without_loading_it()
    {
        using var dir = new TestConfigs.TempDir();
        var raw = new byte[2 * 1000];
        for (var i = 0; i < 1000; i++) raw[2 * i] = (byte)(i % 200);
        File.WriteAllBytes(Path.Combine(dir.Path, "train.bin"), raw);
        using var s = TextCorpus.Load("train.bin", "text", Bytes, 0.1, 10, new DataLocations(dir.Path, null));
        Assert.Equal(1000, s.Count);
        Assert.Equal(100, s.ValidationLength);
        var w = new long[3];
        s.CopyWindow(900, w);
        Assert.Equal([100L, 101L, 102L], w);
        Assert.Throws<InvalidOperationException>(() => s.All.Length);
    }
}
