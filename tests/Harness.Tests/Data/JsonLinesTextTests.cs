using System.IO.Compression;
using System.Text;
using Harness.Experiments.Data;
using Harness.Tests.Core;

namespace Harness.Tests.Data;

public sealed class JsonLinesTextTests
{
    private static readonly ByteTokenizer Bytes = new();

    private static void WriteShard(string path, string content)
    {
        var bytes = Encoding.UTF8.GetBytes(content);
        if (!path.EndsWith(".gz", StringComparison.Ordinal))
        {
            File.WriteAllBytes(path, bytes);
            return;
        }
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Fastest);
        gzip.Write(bytes);
    }

    private const string C4Like =
        "{\"text\":\"Beginners BBQ Class.\\nTaking place in Missoula!\",\"timestamp\":\"2019-04-25T12:57:54Z\",\"url\":\"https://example.org/a\"}\n" +
        "\n" +
        "{\"url\":\"https://example.org/b\",\"text\":\"Discussion in \\u201cMac OS X\\u201d \\ud83d\\udc33 started\"}\r\n" +
        "{\"text\":\"\"}\n" +
        "{\"text\":\"Foil plaid lycra.\"}";

    [Theory]
    [InlineData("c4-train.00000-of-01024.json.gz")]
    [InlineData("shard.jsonl")]
    [InlineData("shard.jsonl.gz")]
    [InlineData("shard.json")]
    public void Each_object_is_one_document_in_file_order_blank_lines_and_empty_texts_skipped(string name)
    {
        using var dir = new TestConfigs.TempDir();
        var path = Path.Combine(dir.Path, name);
        WriteShard(path, C4Like);
        Assert.Equal(["Beginners BBQ Class.\nTaking place in Missoula!", "Discussion in “Mac OS X” 🐳 started", "Foil plaid lycra."],
            JsonLinesText.ReadDocuments(path, "text").ToArray());
    }

    [Fact]
    public void A_corpus_of_shards_joins_documents_with_end_of_text_and_the_field_is_configurable()
    {
        using var dir = new TestConfigs.TempDir();
        Directory.CreateDirectory(Path.Combine(dir.Path, "c4"));
        WriteShard(Path.Combine(dir.Path, "c4", "b.jsonl.gz"), "{\"content\":\"third\"}\n");
        WriteShard(Path.Combine(dir.Path, "c4", "a.jsonl.gz"), "{\"content\":\"first\"}\n{\"content\":\"second\"}\n");
        var gpt2 = Gpt2Tokenizer.Create();
        using var s = TextCorpus.Load("c4/*.jsonl.gz", "content", gpt2, 0.4, 2, new DataLocations(dir.Path, Path.Combine(dir.Path, "cache")));
        var ids = new long[s.Count];
        s.CopyWindow(0, ids);
        int[] expected = [.. gpt2.Encode("first"), 50256, .. gpt2.Encode("second"), 50256, .. gpt2.Encode("third")];
        Assert.Equal(expected, ids.Select(i => (int)i).ToArray());
        // Without a tokenizer end-of-text the documents are separated by a blank line, as text files are.
        using var bytes = TextCorpus.Load("c4/*.jsonl.gz", "content", Bytes, 0.2, 2, new DataLocations(dir.Path, null));
        Assert.Equal("first\n\nsecond\n\nthird", Bytes.Decode(bytes.All.ToArray()));
    }

    [Fact]
    public void The_token_cache_is_keyed_by_the_shard_contents()
    {
        using var dir = new TestConfigs.TempDir();
        var path = Path.Combine(dir.Path, "shard.jsonl");
        var where = new DataLocations(dir.Path, Path.Combine(dir.Path, "cache"));
        WriteShard(path, "{\"text\":\"aaaaaaaaaaaaaaaaaaaa\"}\n");
        using (var first = TextCorpus.Load("shard.jsonl", "text", Bytes, 0.2, 2, where)) Assert.Equal(20, first.Count);
        WriteShard(path, "{\"text\":\"bbbbbbbbbbbbbbbbbbbbbbbbb\"}\n");
        using var second = TextCorpus.Load("shard.jsonl", "text", Bytes, 0.2, 2, where);
        Assert.Equal(25, second.Count);
        Assert.Equal(2, Directory.GetFiles(Path.Combine(dir.Path, "cache", "tokens")).Length);
    }

    [Theory]
    [InlineData("{\"text\":\"ok\"}\n{\"text\": \"unterminated}\n", 2, "malformed JSON")]
    [InlineData("{\"text\":\"ok\"}\n\n{\"txt\":\"typo\",\"url\":\"u\"}\n", 3, "no field 'text' (fields: txt, url); set text_column")]
    [InlineData("{\"text\":42}\n", 1, "field 'text' holds a JSON number, not a string")]
    [InlineData("{\"text\":null}\n", 1, "field 'text' holds a JSON null, not a string")]
    [InlineData("{\"text\":[\"a\",\"b\"]}\n", 1, "field 'text' holds a JSON array, not a string")]
    [InlineData("[{\"text\":\"a json array file\"}]\n", 1, "a JSON array, not an object")]
    [InlineData("\"just a string\"\n", 1, "a JSON string, not an object")]
    [InlineData("{\"text\":\"a\"} trailing\n", 1, "malformed JSON")]
    public void Hostile_lines_name_file_line_and_problem(string content, int line, string problem)
    {
        using var dir = new TestConfigs.TempDir();
        foreach (var name in new[] { "bad.jsonl", "bad.json.gz" })
        {
            var path = Path.Combine(dir.Path, name);
            WriteShard(path, content);
            var e = Assert.Throws<DataException>(() => TextCorpus.Load(name, "text", Bytes, 0.2, 2, new DataLocations(dir.Path, null)));
            Assert.Equal(path, e.Path);
            Assert.Equal(line, e.Line);
            Assert.StartsWith($"{path}:{line}: ", e.Message, StringComparison.Ordinal);
            Assert.Contains(problem, e.Problem, StringComparison.Ordinal);
            Assert.DoesNotContain('\n', e.Message);
        }
    }

    [Fact]
    public void Broken_gzip_empty_shards_and_missing_files_are_data_errors()
    {
        using var dir = new TestConfigs.TempDir();
        var where = new DataLocations(dir.Path, null);
        string P(string n) => Path.Combine(dir.Path, n);

        File.WriteAllText(P("plain.jsonl.gz"), "{\"text\":\"not compressed\"}\n");
        var notGzip = Assert.Throws<DataException>(() => TextCorpus.Load("plain.jsonl.gz", "text", Bytes, 0.2, 2, where));
        Assert.Equal(P("plain.jsonl.gz"), notGzip.Path);
        Assert.Contains("cannot decompress", notGzip.Message);

        WriteShard(P("whole.jsonl.gz"), string.Concat(Enumerable.Repeat("{\"text\":\"some document text here\"}\n", 2000)));
        var bytes = File.ReadAllBytes(P("whole.jsonl.gz"));
        File.WriteAllBytes(P("cut.jsonl.gz"), bytes[..(bytes.Length / 2)]);
        var cut = Assert.Throws<DataException>(() => TextCorpus.Load("cut.jsonl.gz", "text", Bytes, 0.2, 2, where));
        Assert.Equal(P("cut.jsonl.gz"), cut.Path);

        WriteShard(P("empty.jsonl"), "\n{\"text\":\"\"}\n\n");
        Assert.Equal($"{P("empty.jsonl")}: empty corpus: no text in this file",
            Assert.Throws<DataException>(() => TextCorpus.Load("empty.jsonl", "text", Bytes, 0.2, 2, where)).Message);
        Assert.Equal($"{P("gone.json.gz")}: corpus file not found",
            Assert.Throws<DataException>(() => TextCorpus.Load("gone.json.gz", "text", Bytes, 0.2, 2, where)).Message);
    }
}
