using Harness.Core.Config;
using Harness.Experiments.Data;
using Harness.Experiments.Workloads;
using Harness.Tests.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace Harness.Tests.Workloads;

public sealed class ModelVocabularyTests
{
    [Fact]
    public void Known_vocabularies_are_the_tokenizers_own()
    {
        foreach (var name in TokenizerCatalog.Names)
            Assert.Equal(TokenizerCatalog.Create(name).VocabSize, TokenizerCatalog.KnownVocabSize(name));
    }

    [Theory]
    [InlineData("llama", "byte", 255, "vocab_size 255 does not cover tokenizer 'byte' (256 ids)")]
    [InlineData("gpt2", "gpt2", 32000, "vocab_size 32000 does not cover tokenizer 'gpt2' (50257 ids)")]
    [InlineData("llama", "byte", 0, "must be >= 1")]
    public void A_vocab_size_below_the_tokenizer_is_an_error_at_its_line(string kind, string tokenizer, int vocab, string message) =>
        ConfigTestKit.Single($"""
            name: t
            workload:
              kind: {kind}
              vocab_size: {vocab}
              data: {"{"} tokenizer: {tokenizer} {"}"}
            optimizers:
              - kind: adamw
            """, 4, null, message);

    [Fact]
    public void A_paper_vocabulary_sizes_the_embedding_and_head_and_leaves_the_data_alone()
    {
        var config = ConfigLoader.Parse("""
            name: t
            workload: { kind: llama, vocab_size: 32000, seq_len: 16, hidden: 32, heads: 2, layers: 1, ffn: 64 }
            optimizers: [ { kind: adamw } ]
            """, "t.yaml");
        var spec = (LlamaSpec)config.Workload;
        Assert.Equal(32000, spec.VocabSize);
        var data = new TokenStream(Enumerable.Range(0, 2000).Select(i => i % 256).ToArray(), 256, 0.1, 17);
        using var w = new LanguageModelWorkload(spec, new WorkloadContext(0, CPU, ScalarType.Float32, 2), data);
        Assert.Equal([32000L, 32], w.Parameters[0].Value.shape);
        Assert.Equal([32000L, 32], w.Parameters[^1].Value.shape);
        Assert.Equal(256, w.Data.VocabSize);
        using var batch = w.NextBatch(Split.Train);
        using var loss = w.Loss(batch);
        Assert.InRange(loss.item<float>(), Math.Log(32000) - 0.5, Math.Log(32000) + 0.5);
    }

    [Fact]
    public void Training_refuses_a_vocab_size_that_leaves_tokenizer_ids_out()
    {
        var e = Assert.Throws<DataException>(() => ModelVocabulary.ForTraining(32000, "t5.model", 32100));
        Assert.Equal("t5.model", e.Path);
        Assert.Contains("vocab_size 32000 does not cover tokenizer 't5.model' (32100 ids)", e.Message);
        Assert.Equal(32100, ModelVocabulary.ForTraining(32100, "t5.model", 32100));
        Assert.Equal(256, ModelVocabulary.ForTraining(null, "byte", 256));
    }

    [Fact]
    public void Run_ids_of_configs_without_vocab_size_are_unchanged()
    {
        var spec = new LlamaSpec();
        var json = System.Text.Json.JsonSerializer.Serialize<object>(spec);
        Assert.DoesNotContain("VocabSize", json);
        Assert.Contains("VocabSize", System.Text.Json.JsonSerializer.Serialize<object>(spec with { VocabSize = 32000 }));
    }
}
