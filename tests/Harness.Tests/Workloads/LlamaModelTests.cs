using Harness.Experiments.Models;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Tests.Workloads;

public sealed class LlamaModelTests
{
    private static readonly LlamaConfig Tiny = LlamaConfig.Resolve("tiny", 256);

    private static Llama Build(LlamaConfig config, ulong seed)
    {
        using var g = new Generator(seed, CPU);
        return new Llama(config, g);
    }

    [Fact]
    public void Tiny_model_has_the_HF_parameter_names_shapes_and_roles_in_model_order()
    {
        using var model = Build(Tiny, 1);
        var expected = new List<(string, long[], ParamRole)> { ("model.embed_tokens.weight", [256, 128], ParamRole.Embedding) };
        for (var i = 0; i < 2; i++)
        {
            foreach (var p in new[] { "q", "k", "v", "o" })
                expected.Add(($"model.layers.{i}.self_attn.{p}_proj.weight", [128, 128], ParamRole.Matrix));
            expected.Add(($"model.layers.{i}.mlp.gate_proj.weight", [352, 128], ParamRole.Matrix));
            expected.Add(($"model.layers.{i}.mlp.up_proj.weight", [352, 128], ParamRole.Matrix));
            expected.Add(($"model.layers.{i}.mlp.down_proj.weight", [128, 352], ParamRole.Matrix));
            expected.Add(($"model.layers.{i}.input_layernorm.weight", [128], ParamRole.Vector));
            expected.Add(($"model.layers.{i}.post_attention_layernorm.weight", [128], ParamRole.Vector));
        }
        expected.Add(("model.norm.weight", [128], ParamRole.Vector));
        expected.Add(("lm_head.weight", [256, 128], ParamRole.OutputHead));

        var actual = model.NamedParameters().Select(p => (p.Name, p.Value.shape, p.Role)).ToList();

        Assert.Equal(expected.Select(e => e.Item1), actual.Select(a => a.Name));
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Item2, actual[i].shape);
            Assert.Equal(expected[i].Item3, actual[i].Role);
        }
        Assert.Equal(model.named_parameters().Select(p => p.name), actual.Select(a => a.Name));
    }

    [Theory]
    [InlineData("tiny", 256, 467_584L)]
    [InlineData("60m", 32000, 58_073_600L)]   // GaLore's 60M model with its 32000-token vocabulary
    public void Parameter_count_matches_the_closed_form(string size, int vocab, long expected)
    {
        var c = LlamaConfig.Resolve(size, vocab);
        long d = c.Hidden, ffn = c.Ffn, v = vocab, layers = c.Layers;
        Assert.Equal(2 * v * d + layers * (4 * d * d + 3 * d * ffn + 2 * d) + d, c.ParameterCount);
        Assert.Equal(expected, c.ParameterCount);

        using var model = Build(c, 7);
        Assert.Equal(expected, model.parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void Presets_and_overrides_resolve_and_bad_shapes_are_refused_with_a_reason()
    {
        Assert.Equal(new LlamaConfig(100, 1024, 24, 16, 2736), LlamaConfig.Resolve("350m", 100));
        Assert.Equal(new LlamaConfig(100, 2048, 24, 32, 5461), LlamaConfig.Resolve("1b", 100));
        Assert.Equal(new LlamaConfig(100, 4096, 32, 32, 11008), LlamaConfig.Resolve("7b", 100));
        Assert.Equal(new LlamaConfig(100, 64, 3, 2, 128), LlamaConfig.Resolve("tiny", 100, hidden: 64, layers: 3, heads: 2, ffn: 128));
        Assert.Equal(new LlamaConfig(256, 256, 6, 4, 352), LlamaConfig.FromSpec(new LlamaSpec { Hidden = 256, Layers = 6 }, 256));

        var unknown = Assert.Throws<ArgumentException>(() => LlamaConfig.Resolve("5m", 256));
        Assert.Contains("unknown llama size '5m'", unknown.Message);
        Assert.Contains("tiny, 9m, 20m", unknown.Message);
        var indivisible = Assert.Throws<ArgumentException>(() => LlamaConfig.Resolve("tiny", 256, heads: 3));
        Assert.Contains("divisible", indivisible.Message);
        var odd = Assert.Throws<ArgumentException>(() => LlamaConfig.Resolve("tiny", 256, hidden: 12, heads: 4));
        Assert.Contains("even", odd.Message);
    }

    [Fact]
    public void Same_seed_gives_identical_weights_and_another_seed_different_ones()
    {
        using var a = Build(Tiny, 42);
        using var b = Build(Tiny, 42);
        using var c = Build(Tiny, 43);
        var pa = a.NamedParameters();
        var pb = b.NamedParameters();
        var pc = c.NamedParameters();
        for (var i = 0; i < pa.Count; i++)
        {
            Assert.True(pa[i].Value.equal(pb[i].Value).all().item<bool>(), pa[i].Name);
            if (pa[i].Role != ParamRole.Vector) Assert.False(pa[i].Value.equal(pc[i].Value).all().item<bool>(), pa[i].Name);
        }
        // normal(0, 0.02) for weights, ones for norms
        Assert.InRange(pa[0].Value.std().item<float>(), 0.019f, 0.021f);
        Assert.True(pa.Where(p => p.Role == ParamRole.Vector).All(p => p.Value.eq(1).all().item<bool>()));
    }

    /// <summary>
    /// The decoder keeps its rotary tables between forwards (recomputing them copied them from the CPU every step,
    /// a synchronising copy on CUDA): forwards at changing sequence lengths give exactly what a fresh model gives.
    /// </summary>
    [Fact]
    public void Cached_rotary_tables_give_the_same_logits_as_a_fresh_model_across_sequence_lengths()
    {
        using var scope = NewDisposeScope();
        using var model = Build(Tiny, 3);
        var gen = new Generator(5, CPU);
        foreach (var length in new[] { 8, 5, 8, 12 })
        {
            var tokens = randint(0, 256, [2, length], ScalarType.Int64, generator: gen);
            using var fresh = Build(Tiny, 3);
            using var noGrad = no_grad();
            var cached = model.Logits(tokens);
            var reference = fresh.Logits(tokens);
            Assert.Equal(new long[] { 2, length, 256 }, cached.shape);
            Assert.True(cached.eq(reference).all().item<bool>(), $"length {length}: logits differ by {(cached - reference).abs().max().item<float>():E2}");
        }
    }

    [Fact]
    public void Changing_a_future_token_leaves_earlier_logits_unchanged()
    {
        using var scope = NewDisposeScope();
        using var model = Build(Tiny, 3);
        using var g = new Generator(5, CPU);
        var tokens = randint(0, 256, [2, 24], ScalarType.Int64, CPU, generator: g);
        var changed = tokens.clone();
        changed[TensorIndex.Colon, 12] = (tokens[TensorIndex.Colon, 12] + 1) % 256;
        using var noGrad = no_grad();
        var before = model.forward(tokens);
        var after = model.forward(changed);

        Assert.True(before.narrow(1, 0, 12).allclose(after.narrow(1, 0, 12), rtol: 0, atol: 1e-6));
        Assert.False(before.narrow(1, 12, 12).allclose(after.narrow(1, 12, 12), rtol: 0, atol: 1e-4));
    }

    [Fact]
    public void Rotary_scores_depend_only_on_relative_position()
    {
        using var scope = NewDisposeScope();
        const int seq = 64, dim = 32;
        using var g = new Generator(11, CPU);
        var q = randn([dim], generator: g);
        var k = randn([dim], generator: g);
        var (cos, sin) = RotaryEmbedding.Tables(seq, dim, 10000, CPU);
        var rq = RotaryEmbedding.Apply(q.expand(seq, dim), cos, sin);
        var rk = RotaryEmbedding.Apply(k.expand(seq, dim), cos, sin);
        float Score(int m, int n) => rq[m].dot(rk[n]).item<float>();

        foreach (var (m, n) in new[] { (5, 2), (2, 5), (9, 9), (30, 1) })
            foreach (var shift in new[] { 1, 7, 30 })
                Assert.Equal(Score(m, n), Score(m + shift, n + shift), 3);
        Assert.NotEqual(Score(5, 2), Score(8, 2), 3);

        // HF rotate_half layout: channel 0 pairs with channel dim/2, and the first frequency is 1 rad/position.
        const int p = 3;
        var expected0 = q[0].item<float>() * MathF.Cos(p) - q[dim / 2].item<float>() * MathF.Sin(p);
        var expectedHalf = q[dim / 2].item<float>() * MathF.Cos(p) + q[0].item<float>() * MathF.Sin(p);
        Assert.Equal(expected0, rq[p, 0].item<float>(), 5);
        Assert.Equal(expectedHalf, rq[p, dim / 2].item<float>(), 5);
    }
}
