using Harness.Experiments.Models;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Tests.Workloads;

/// <summary>kv_heads (grouped-query attention), rope_theta, tie_embeddings and the paper presets.</summary>
public sealed class LlamaShapeOptionTests
{
    [Fact]
    public void Llama3_8b_preset_has_the_published_shape_and_parameter_count_from_the_planner_shapes()
    {
        // meta-llama/Llama-3.1-8B config.json: 4096 / 14336 / 32 layers / 32 heads / 8 kv heads / 128256 vocab / untied.
        var c = LlamaConfig.Resolve("llama3-8b", 128256);
        Assert.Equal((4096, 14336, 32, 32, 8, 500000.0, false), (c.Hidden, c.Ffn, c.Layers, c.Heads, c.KvHeads, c.RopeTheta, c.TieEmbeddings));
        Assert.Equal(RopeScaling.Llama31, c.RopeScaling);
        var shapes = c.ParameterShapes();
        Assert.Equal(8_030_261_248L, shapes.Sum(s => s.Numel));
        Assert.Equal(8_030_261_248L, c.ParameterCount);
        Assert.Equal([1024L, 4096], shapes.Single(s => s.Name == "model.layers.0.self_attn.k_proj.weight").Shape);
        Assert.Equal([1024L, 4096], shapes.Single(s => s.Name == "model.layers.31.self_attn.v_proj.weight").Shape);
        Assert.Equal([4096L, 4096], shapes.Single(s => s.Name == "model.layers.0.self_attn.q_proj.weight").Shape);
        Assert.Equal([128256L, 4096], shapes[^1].Shape);
        Assert.Equal(ParamRole.OutputHead, shapes[^1].Role);
    }

    [Theory]
    [InlineData("7b", 32000, 6_738_415_616L)]   // LLaMA-7B (GaLore's llama_7b.json): the published 6.74B
    [InlineData("1b", 32000, 1_339_082_752L)]   // GaLore's llama_1b.json, which is SWAN's "1.3B" (1.34B)
    public void GaLore_presets_keep_their_shapes_and_counts(string size, int vocab, long expected)
    {
        var c = LlamaConfig.Resolve(size, vocab);
        Assert.Equal(c.Heads, c.KvHeads);
        Assert.Equal(10000.0, c.RopeTheta);
        Assert.Null(c.RopeScaling);
        Assert.Equal(expected, c.ParameterShapes().Sum(s => s.Numel));
        Assert.Equal(expected, c.ParameterCount);
    }

    [Fact]
    public void Grouped_query_and_tied_models_build_exactly_the_planned_shapes()
    {
        var c = LlamaConfig.Resolve("tiny", 256, kvHeads: 2, tieEmbeddings: true, ropeTheta: 500000);
        using var init = new Generator(3, CPU);
        using var model = new Llama(c, init);
        var built = model.NamedParameters();
        var planned = c.ParameterShapes();
        Assert.Equal(planned.Select(s => s.Name), built.Select(p => p.Name));
        Assert.Equal(planned.Select(s => s.Shape.ToArray()), built.Select(p => p.Value.shape));
        Assert.Equal(planned.Select(s => s.Role), built.Select(p => p.Role));
        Assert.DoesNotContain(built, p => p.Name == "lm_head.weight");
        Assert.Equal(new long[] { 64, 128 }, built.Single(p => p.Name == "model.layers.1.self_attn.k_proj.weight").Value.shape);
        // tiny untied: 467,584; tying drops the 256x128 head, GQA drops 2 layers x 2 projections x 64x128.
        Assert.Equal(467_584L - 256 * 128 - 2 * 2 * 64 * 128, c.ParameterCount);
        Assert.Equal(c.ParameterCount, built.Sum(p => p.Value.numel()));
    }

    [Fact]
    public void Grouped_query_attention_equals_multi_head_attention_with_each_kv_head_repeated_for_its_group()
    {
        using var scope = NewDisposeScope();
        var gqa = LlamaConfig.Resolve("tiny", 256, layers: 1, kvHeads: 2);
        var mha = LlamaConfig.Resolve("tiny", 256, layers: 1);
        using var g1 = new Generator(5, CPU);
        using var g2 = new Generator(6, CPU);
        using var a = new Llama(gqa, g1);
        using var b = new Llama(mha, g2);
        var headDim = gqa.HeadDim;
        using (no_grad())
        {
            var source = a.NamedParameters().ToDictionary(p => p.Name, p => (Tensor)p.Value);
            foreach (var p in b.NamedParameters())
            {
                Tensor w = source[p.Name];
                // k/v rows of kv head j become the rows of query heads 2j and 2j+1.
                if (w.shape[0] != p.Value.shape[0])
                    w = w.view(gqa.KvHeads, headDim, -1).repeat_interleave(gqa.Heads / gqa.KvHeads, dim: 0).reshape(p.Value.shape);
                p.Value.copy_(w);
            }
        }
        using var g = new Generator(7, CPU);
        var tokens = randint(0, 256, [2, 16], ScalarType.Int64, generator: g);
        using var noGrad = no_grad();
        var la = a.Logits(tokens);
        var lb = b.Logits(tokens);
        Assert.True(la.allclose(lb, rtol: 0, atol: 1e-6), $"differ by {(la - lb).abs().max().item<float>():E2}");
    }

    [Fact]
    public void Tied_head_multiplies_by_the_embedding_and_its_gradient_reaches_the_embedding_from_both_uses()
    {
        using var scope = NewDisposeScope();
        var c = LlamaConfig.Resolve("tiny", 256, layers: 1, tieEmbeddings: true);
        using var init = new Generator(2, CPU);
        using var model = new Llama(c, init);
        using var g = new Generator(7, CPU);
        var tokens = randint(0, 256, [1, 8], ScalarType.Int64, generator: g);
        var embedding = model.NamedParameters()[0].Value;
        model.Logits(tokens).sum().backward();
        // Rows never looked up still get a gradient, from the head alone.
        var unused = Enumerable.Range(0, 256).First(i => !tokens.data<long>().Contains(i));
        Assert.True(embedding.grad!.select(0, unused).abs().sum().item<float>() > 0);
    }

    [Fact]
    public void Llama31_rope_scaling_keeps_fast_frequencies_divides_slow_ones_and_interpolates_between()
    {
        var s = RopeScaling.Llama31;
        var fast = 2 * Math.PI / 100;     // wavelength 100 < 8192/4
        var slow = 2 * Math.PI / 10000;   // wavelength 10000 > 8192
        var mid = 2 * Math.PI / 4096;     // 8192/4096 = 2: smooth (2 - 1) / 3 = 1/3
        Assert.Equal(fast, s.Scale(fast));
        Assert.Equal(slow / 8, s.Scale(slow), 15);
        Assert.Equal(2.0 / 3 * mid / 8 + 1.0 / 3 * mid, s.Scale(mid), 15);
    }

    [Fact]
    public void Bad_kv_heads_and_rope_theta_are_refused_naming_the_key()
    {
        var bad = new LlamaSpec { KvHeads = 3 }.Validate().Single();
        Assert.Equal("kv_heads", bad.Key);
        Assert.Contains("divide heads (4)", bad.Message);
        Assert.Equal("rope_theta", new LlamaSpec { RopeTheta = -1 }.Validate().Single().Key);
        Assert.Empty(new LlamaSpec { KvHeads = 2, RopeTheta = 500000, TieEmbeddings = true }.Validate());
    }

    [Fact]
    public void Defaults_leave_the_run_spec_json_without_the_new_keys()
    {
        var json = System.Text.Json.JsonSerializer.Serialize(new LlamaSpec());
        Assert.DoesNotContain("KvHeads", json, StringComparison.Ordinal);
        Assert.DoesNotContain("RopeTheta", json, StringComparison.Ordinal);
        Assert.DoesNotContain("TieEmbeddings", json, StringComparison.Ordinal);
        Assert.Equal(new LlamaConfig(256, 128, 2, 4, 352), LlamaConfig.FromSpec(new LlamaSpec(), 256));
    }
}
