using System.Text.Json;
using Harness.Experiments.Data;
using Harness.Core.Config;
using Harness.Experiments.Workloads;
using Harness.Tests.Core;

namespace Harness.Tests.Data;

/// <summary>
/// Tokenizer files against the ids their own libraries give (sentencepiece for the .model files, Hugging Face
/// tokenizers for tokenizer.json and vocab.json + merges.txt); Data/Tokenizers/README.md says how the fixtures
/// and expected-ids.json were made.
/// </summary>
public sealed class TokenizerFileTests
{
    private static string Fixtures => Path.Combine(TestPaths.RepoRoot(), "tests", "Harness.Tests", "Data", "Tokenizers");

    public static TheoryData<string> Files => new() { "llama-bpe.model", "t5-unigram.model", "hf-bpe/tokenizer.json", "gpt2-pair/vocab.json", "hf-unigram/tokenizer.json" };

    private static (string[] Strings, JsonElement Entry) Expected(string file)
    {
        using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Fixtures, "expected-ids.json")));
        var strings = json.RootElement.GetProperty("strings").EnumerateArray().Select(s => s.GetString()!).ToArray();
        var entry = json.RootElement.GetProperty("tokenizers").EnumerateArray().Single(t => t.GetProperty("file").GetString() == file);
        return (strings, entry.Clone());
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Ids_equal_the_reference_library_ids(string file)
    {
        var (strings, expected) = Expected(file);
        var tokenizer = TokenizerFile.Load(Path.Combine(Fixtures, file));
        Assert.Equal(expected.GetProperty("vocab_size").GetInt32(), tokenizer.VocabSize);
        Assert.Equal(expected.GetProperty("end_of_text").GetInt32(), tokenizer.EndOfText);
        var ids = expected.GetProperty("ids").EnumerateArray().Select(a => a.EnumerateArray().Select(i => i.GetInt32()).ToArray()).ToArray();
        Assert.Equal(strings.Length, ids.Length);
        // A known difference (expected-ids.json says why) is reported by the file rather than hidden here.
        var known = expected.TryGetProperty("known_differences", out var k) ? k.EnumerateObject().Select(p => int.Parse(p.Name, System.Globalization.CultureInfo.InvariantCulture)).ToHashSet() : [];
        Assert.True(known.Count <= 1, "more than one known difference: the tokenizer no longer checks much");
        var mismatches = Enumerable.Range(0, strings.Length).Where(i => !known.Contains(i) && !ids[i].SequenceEqual(tokenizer.Encode(strings[i])))
            .Select(i => $"string {i} ({strings[i]}): expected [{string.Join(",", ids[i])}], got [{string.Join(",", tokenizer.Encode(strings[i]))}]").ToList();
        Assert.True(mismatches.Count == 0, $"{file}: {string.Join("; ", mismatches)}");
    }

    [Theory]
    [InlineData("llama-bpe.model")]
    [InlineData("hf-bpe/tokenizer.json")]
    [InlineData("gpt2-pair/vocab.json")]
    public void Byte_level_tokenizers_decode_every_string_back(string file)
    {
        var (strings, _) = Expected(file);
        var tokenizer = TokenizerFile.Load(Path.Combine(Fixtures, file));
        // Byte fallback / byte-level BPE: nothing is unknown, so decoding restores the text exactly
        // (the literal special-token string aside, which decodes as itself either way).
        foreach (var s in strings) Assert.Equal(s, tokenizer.Decode(tokenizer.Encode(s)));
    }

    [Fact]
    public void A_tokenizer_path_in_a_config_resolves_against_the_config_folder_and_names_kind_file_and_hash()
    {
        var where = new DataLocations(Fixtures, null);
        var spm = TokenizerCatalog.Create("llama-bpe.model", where);
        Assert.Matches("^spm-llama-bpe-[0-9a-f]{8}$", spm.Name);
        var folder = TokenizerCatalog.Create("hf-bpe/", where);      // a folder: its tokenizer.json
        Assert.Equal(TokenizerFile.Load(Path.Combine(Fixtures, "hf-bpe", "tokenizer.json")).Name, folder.Name);
        Assert.StartsWith("hf-tokenizer-", folder.Name, StringComparison.Ordinal);
        Assert.StartsWith("bpe-gpt2-pair-", TokenizerCatalog.Create("gpt2-pair/vocab.json", where).Name, StringComparison.Ordinal);
        Assert.Equal("gpt2", TokenizerCatalog.Create("gpt2", where).Name);
        Assert.True(TokenizerCatalog.LooksValid("tokenizers/t5.model"));
        Assert.False(TokenizerCatalog.LooksValid("sentencepiece"));
    }

    [Fact]
    public void A_t5_layout_model_without_bos_has_its_eos_as_end_of_text_and_unknowns_fused()
    {
        var t5 = TokenizerFile.Load(Path.Combine(Fixtures, "t5-unigram.model"));
        Assert.Equal(1, t5.EndOfText);                                // </s>; no <s> in a T5 model (bos_id = -1)
        var ids = t5.Encode("日本語");                                 // three unknown characters: one unknown piece, as sentencepiece gives
        Assert.Equal(1, ids.Count(i => i == 2));
    }

    [Fact]
    public void Corpus_documents_are_joined_by_the_tokenizer_files_end_of_text()
    {
        using var dir = new TestConfigs.TempDir();
        File.WriteAllText(Path.Combine(dir.Path, "a.txt"), string.Concat(Enumerable.Repeat("Call me Ishmael. ", 40)));
        File.WriteAllText(Path.Combine(dir.Path, "b.txt"), string.Concat(Enumerable.Repeat("Some years ago. ", 40)));
        var tokenizer = TokenizerFile.Load(Path.Combine(Fixtures, "llama-bpe.model"));
        var where = new DataLocations(dir.Path, Path.Combine(dir.Path, "cache"));
        using var s = TextCorpus.Load("*.txt", "text", tokenizer, 0.2, 9, where);
        var a = tokenizer.Encode(File.ReadAllText(Path.Combine(dir.Path, "a.txt")));
        var b = tokenizer.Encode(File.ReadAllText(Path.Combine(dir.Path, "b.txt")));
        var all = new long[s.Count];
        s.CopyWindow(0, all);
        Assert.Equal([.. a, 2, .. b], all.Select(x => (int)x).ToArray());
        Assert.Contains(tokenizer.Name, Path.GetFileName(Assert.Single(Directory.GetFiles(Path.Combine(dir.Path, "cache", "tokens")))));
    }

    [Fact]
    public void Malformed_tokenizer_files_are_one_line_data_errors_naming_the_file()
    {
        using var dir = new TestConfigs.TempDir();
        string Write(string name, byte[] bytes)
        {
            var path = Path.Combine(dir.Path, name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, bytes);
            return path;
        }
        string Fails(string path)
        {
            var e = Assert.Throws<DataException>(() => TokenizerFile.Load(path));
            Assert.Equal(path, e.Path);
            Assert.DoesNotContain('\n', e.Message);
            return e.Problem;
        }
        var model = File.ReadAllBytes(Path.Combine(Fixtures, "llama-bpe.model"));
        Assert.Contains("SentencePiece", Fails(Write("garbage.model", "this is not a protobuf at all"u8.ToArray())));
        Assert.Contains("SentencePiece", Fails(Write("truncated.model", model[..(model.Length / 2)])));
        Assert.Equal("tokenizer file is empty", Fails(Write("empty.model", [])));
        Assert.Equal("tokenizer file not found", Fails(Path.Combine(dir.Path, "missing.model")));
        Assert.StartsWith("not valid JSON", Fails(Write("bad/tokenizer.json", "{\"model\": "u8.ToArray())), StringComparison.Ordinal);
        Assert.Contains("no \"model\" object", Fails(Write("nomodel/tokenizer.json", "{\"version\": \"1.0\"}"u8.ToArray())));
        Assert.Contains("model type 'WordPiece' is not supported", Fails(Write("wp/tokenizer.json", "{\"model\": {\"type\": \"WordPiece\"}}"u8.ToArray())));
        var hf = File.ReadAllText(Path.Combine(Fixtures, "hf-bpe", "tokenizer.json"));
        Assert.Contains("byte_fallback", Fails(Write("fb/tokenizer.json", System.Text.Encoding.UTF8.GetBytes(hf.Replace("\"byte_fallback\": false", "\"byte_fallback\": true", StringComparison.Ordinal)))));
        Assert.Contains("pre_tokenizer 'Whitespace'", Fails(Write("ws/tokenizer.json", System.Text.Encoding.UTF8.GetBytes(hf.Replace("\"type\": \"ByteLevel\",\n  \"add_prefix_space\"", "\"type\": \"Whitespace\",\n  \"add_prefix_space\"", StringComparison.Ordinal)))));
        Assert.Contains("merges.txt", Fails(Write("pair/vocab.json", File.ReadAllBytes(Path.Combine(Fixtures, "gpt2-pair", "vocab.json")))));
        Write("pair2/vocab.json", File.ReadAllBytes(Path.Combine(Fixtures, "gpt2-pair", "vocab.json")));
        var merges = Write("pair2/merges.txt", "#version: 0.2\nĠ t\nthree tokens here\n"u8.ToArray());
        var e = Assert.Throws<DataException>(() => TokenizerFile.Load(Path.Combine(dir.Path, "pair2", "vocab.json")));
        Assert.Equal($"{merges}:3: a merge is two tokens separated by one space", e.Message);
        Assert.Contains("unknown tokenizer file kind", Fails(Write("vocab.txt", "a\nb\n"u8.ToArray())));
        Assert.Contains("no tokenizer file in this folder", Assert.Throws<DataException>(() => TokenizerFile.Load(Path.Combine(dir.Path, "bad", ".."))).Message);
    }

    [Fact]
    public void A_config_takes_a_tokenizer_path_or_a_name_and_points_at_an_unknown_name()
    {
        const string Yaml = "name: t\nworkload:\n  kind: llama\n  data: { corpus: c4/*.json.gz, text_column: content, tokenizer: TOKENIZER }\noptimizers: [{ kind: adamw }]\n";
        var config = ConfigLoader.Parse(Yaml.Replace("TOKENIZER", "tokenizers/t5.model", StringComparison.Ordinal), "t.yaml");
        var data = Assert.IsType<LlamaSpec>(config.Workload).Data;
        Assert.Equal(("tokenizers/t5.model", "content", "c4/*.json.gz"), (data.Tokenizer, data.TextColumn, data.Corpus));
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(Yaml.Replace("TOKENIZER", "sentencepiece", StringComparison.Ordinal), "t.yaml"));
        var p = Assert.Single(e.Problems);
        Assert.Equal(4, p.Line);
        Assert.Contains("unknown tokenizer 'sentencepiece'; known: byte, gpt2, or a path to a tokenizer file", p.Message);
    }
}
