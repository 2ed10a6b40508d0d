using System.Security.Cryptography;
using Harness.Experiments.Data;

namespace Harness.Tests.Workloads;

public sealed class TextDataTests
{
    [Fact]
    public void Gpt2_tokenizer_gives_the_r50k_ids_and_decodes_back()
    {
        const string text = "The quick brown fox jumps over the lazy dog. Optimizers: AdamW, Lion, Muon!";
        var gpt2 = TokenizerCatalog.Create("gpt2");
        var ids = gpt2.Encode(text);
        Assert.Equal([464, 2068, 7586, 21831, 18045, 625, 262, 16931, 3290, 13, 30011, 11341, 25, 7244, 54, 11, 15218, 11, 8252, 261, 0], ids);
        Assert.Equal(text, gpt2.Decode(ids));
        Assert.Equal(50257, gpt2.VocabSize);
        Assert.Equal("gpt2", gpt2.Name);
    }

    [Fact]
    public void Byte_tokenizer_round_trips_utf8()
    {
        const string text = "Call me Ishmael. Æther — naïve 🐋";
        var bytes = new ByteTokenizer();
        var ids = bytes.Encode(text);
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(text), ids.Length);
        Assert.All(ids, id => Assert.InRange(id, 0, 255));
        Assert.Equal(text, bytes.Decode(ids));
        Assert.Throws<ArgumentOutOfRangeException>(() => bytes.Decode([256]));
    }

    [Fact]
    public void Unknown_tokenizer_and_corpus_names_list_the_known_ones()
    {
        Assert.Contains("byte, gpt2", Assert.Throws<ArgumentException>(() => TokenizerCatalog.Create("bpe")).Message);
        Assert.Contains("moby-dick", Assert.Throws<ArgumentException>(() => CorpusCatalog.ReadText("shakespeare")).Message);
    }

    [Fact]
    public void Moby_dick_is_the_pinned_text()
    {
        var bytes = CorpusCatalog.ReadBytes("moby-dick");
        Assert.Equal(1_204_997, bytes.Length);
        Assert.Equal("9734ec6c6a9d56b227518cec6554872f", Convert.ToHexStringLower(MD5.HashData(bytes)));
        Assert.StartsWith("public domain", CorpusCatalog.Find("moby-dick")!.Licence);
    }

    [Fact]
    public void Moby_dick_token_counts()
    {
        var text = CorpusCatalog.ReadText("moby-dick");
        Assert.Equal(1_204_997, new ByteTokenizer().Encode(text).Length);
        // 317,756 measured here with ML.Tokenizers and, independently, with SharpToken's own r50k encoder;
        // specs/data.md §7 quotes 314,947, which neither reproduces on this exact file (its md5 is checked in Moby_dick_is_the_pinned_text).
        Assert.Equal(317_756, Gpt2Tokenizer.Create().Encode(text).Length);
    }

    [Fact]
    public void Token_stream_holds_out_whole_windows_at_the_end()
    {
        var tokens = Enumerable.Range(0, 1000).ToArray();
        var s = new TokenStream(tokens, 1000, 0.1, 17);
        Assert.Equal(5 * 17, s.ValidationLength);            // floor(100 / 17) windows
        Assert.Equal(1000 - 85, s.TrainLength);
        Assert.Equal(s.TrainLength, s.ValidationStart);
        Assert.Equal(915, s.Validation[0]);
        Assert.Equal(914, s.Train[^1]);

        var tooShort = Assert.Throws<ArgumentException>(() => new TokenStream(tokens, 1000, 0.01, 17));
        Assert.Contains("shorter than one window", tooShort.Message);
    }
}
