using Harness.Experiments.Models;
using Harness.Optimizers;
using Harness.Optimizers.Adam8bit;
using static TorchSharp.torch;

namespace Harness.Tests.Workloads;

/// <summary><c>stable_embedding: true</c>: bitsandbytes' StableEmbedding in LLaMA and GPT-2, its table's state in 32 bits.</summary>
public sealed class StableEmbeddingTests
{
    [Fact]
    public void Llama_stable_embedding_is_a_xavier_uniform_table_and_a_layer_norm_whose_table_keeps_32_bit_state()
    {
        var config = new LlamaConfig(600, 32, 1, 2, 64) { StableEmbedding = true };
        using var init = new Generator(1, CPU);
        using var model = new Llama(config, init);
        var parameters = model.NamedParameters();
        Assert.Equal(config.ParameterCount, parameters.Sum(p => p.Value.numel()));
        Assert.Equal(new LlamaConfig(600, 32, 1, 2, 64).ParameterCount + 2 * 32, config.ParameterCount);
        var table = parameters.Single(p => p.Name == "model.embed_tokens.weight");
        Assert.Equal((ParamRole.Embedding, true), (table.Role, table.FullPrecisionState));
        Assert.Equal([ParamRole.Vector, ParamRole.Vector],
            parameters.Where(p => p.Name.StartsWith("model.embed_tokens.norm.", StringComparison.Ordinal)).Select(p => p.Role));
        Assert.All(parameters.Where(p => p != table), p => Assert.False(p.FullPrecisionState));
        // xavier-uniform: U(-a, a), a = sqrt(6 / (600 + 32)) = 0.0974; the draws fill the range.
        var a = Math.Sqrt(6.0 / (600 + 32));
        Assert.InRange(table.Value.abs().max().item<float>(), 0.98 * a, a);

        // The layer norm (weight 1, bias 0, eps 1e-5) of the table's rows: (x - mean) / sqrt(var + 1e-5).
        using var scope = NewDisposeScope();
        var embedded = model.named_modules().Single(m => m.name == "model.embed_tokens").module as nn.Module<Tensor, Tensor>;
        var ids = tensor(new long[] { 3, 7, 599 });
        var rows = embedded!.forward(ids.view(1, 3)).squeeze(0);
        var x = table.Value.detach().index_select(0, ids);
        var expected = (x - x.mean([-1], keepdim: true)) / (x.var([-1], unbiased: false, keepdim: true) + 1e-5).sqrt();
        Assert.True(rows.allclose(expected, 1e-5, 1e-5));

        // 8-bit Adam keeps the table's state in fp32 (exp_avg), the head's in 8 bits; the catalog's formula agrees.
        var options = new Adam8bitOptions { Min8BitSize = 1024 };
        using var optimizer = new Adam8bit(parameters, options);
        foreach (var p in parameters) p.Value.grad = randn_like(p.Value) * 0.01;
        optimizer.Step(1e-3);
        var state = optimizer.StateDict();
        Assert.True(state.ContainsKey("model.embed_tokens.weight/exp_avg"));
        Assert.True(state.ContainsKey("lm_head.weight/state1"));
        Assert.Equal(OptimizerCatalog.Find("adam8bit")!.ExpectedStateBytes(parameters, options), optimizer.StateBytes);
    }

    [Fact]
    public void Gpt2_stable_embedding_stays_tied_to_the_head_and_fp32_head_keeps_an_untied_head_in_32_bits()
    {
        var config = Gpt2Config.Resolve("tiny", 300) with { StableEmbedding = true };
        using var init = new Generator(0, CPU);
        using var model = new Gpt2(config, init);
        var parameters = model.NamedParameters();
        Assert.Equal(config.ParameterCount, parameters.Sum(p => p.Value.numel()));
        Assert.True(parameters.Single(p => p.Name == "transformer.wte.weight").FullPrecisionState);
        Assert.False(parameters.Single(p => p.Name == "transformer.wpe.weight").FullPrecisionState);
        using var scope = NewDisposeScope();
        // Tied: the logits are the final hidden states times the (stable) table.
        var logits = model.forward(tensor(new long[] { 1, 2 }).view(1, 2));
        Assert.Equal([1L, 2, 300], logits.shape);

        using var llamaInit = new Generator(0, CPU);
        using var llama = new Llama(new LlamaConfig(600, 32, 1, 2, 64), llamaInit);
        var options = new Adam8bitOptions { Min8BitSize = 1024, Fp32Head = true };
        Assert.Equal([false, true], llama.NamedParameters().Where(p => p.Role is ParamRole.Embedding or ParamRole.OutputHead)
            .Select(p => !options.Quantizes(p)));
    }
}
