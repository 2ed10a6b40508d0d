using System.Text.Json;
using Harness.Experiments.Data;
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
}
