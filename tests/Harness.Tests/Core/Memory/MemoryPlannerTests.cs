using System.Diagnostics;
using Harness.Core.Config;
using Harness.Core.Memory;
using Harness.Experiments.Models;
using Harness.Optimizers;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Harness.Tests.Core.Memory;

public sealed class MemoryPlannerTests(ITestOutputHelper output)
{
    private static ExperimentConfig Config(string workload, string dtype, params string[] optimizers) => ConfigLoader.Parse($"""
        name: plan
        workload: {workload}
        training: {"{"} dtype: {dtype} {"}"}
        optimizers:
        {string.Join("\n", optimizers.Select(o => $"  - {o}"))}
        """, "plan.yaml");

    private static MemoryPlanRow Row(IReadOnlyList<MemoryPlanRow> rows, string label) => rows.Single(r => r.Label == label);

    // LLaMA-7B as GaLore's configs/llama_7b.json and HF's LlamaForCausalLM: d 4096, ffn 11008, 32 layers, V 32000.
    private const long D = 4096, F = 11008, L = 32, V = 32000;

    /// <summary>Every LLaMA-7B tensor's element count, written out here from the architecture (not from the planner).</summary>
    private static IEnumerable<long> Llama7bTensorSizes()
    {
        yield return V * D;                                      // embed_tokens
        for (var i = 0; i < L; i++)
        {
            for (var j = 0; j < 4; j++) yield return D * D;      // q, k, v, o
            for (var j = 0; j < 3; j++) yield return D * F;      // gate, up, down
            yield return D;                                      // input_layernorm
            yield return D;                                      // post_attention_layernorm
        }
        yield return D;                                          // final norm
        yield return V * D;                                      // lm_head
    }

    [Fact]
    public void Llama7b_state_bytes_of_adamw_and_8bit_adam_are_exact()
    {
        var rows = MemoryPlanner.Plan(Config("{ kind: llama, size: 7b, vocab_size: 32000 }", "float32",
            "{ kind: adamw }", "{ kind: adam8bit }", "{ kind: adam8bit, label: adam8bit-min8k, min_8bit_size: 8192 }", "{ kind: adam8bit, label: adam8bit-b256, block_size: 256 }"));
        var sizes = Llama7bTensorSizes().ToList();
        // The published LLaMA-7B count (HF LlamaForCausalLM with V 32000).
        Assert.Equal(6_738_415_616L, sizes.Sum());

        var adamw = Row(rows, "adamw");
        Assert.Equal(6_738_415_616L, adamw.Params);
        Assert.Equal(4 * adamw.Params, adamw.WeightBytes);
        Assert.Equal(4 * adamw.Params, adamw.GradientBytes);
        Assert.Equal(2 * 4 * 6_738_415_616L, adamw.StateBytes);       // fp32 m and v
        Assert.Equal("exact", adamw.StateKind);
        Assert.Equal(adamw.StateBytes, adamw.StateBytesMin);

        // bitsandbytes: tensors with numel >= min_8bit_size (4096) get uint8 m and v (1 B each per element) and one
        // fp32 absmax per block of 2048 for each; smaller tensors keep fp32 m and v (8 B per element).
        static long Adam8bit(IEnumerable<long> sizes, long min8bit, long block) =>
            sizes.Sum(n => n >= min8bit ? 2 * n + 2 * 4 * ((n + block - 1) / block) : 8 * n);
        Assert.Equal(Adam8bit(sizes, 4096, 2048), Row(rows, "adam8bit").StateBytes);
        Assert.Equal(13_503_153_168L, Adam8bit(sizes, 4096, 2048));   // every 7B tensor is 8-bit at the default threshold
        // With a threshold above the norms' 4096 elements, the 65 norm weights keep fp32 state.
        Assert.Equal(Adam8bit(sizes, 8192, 2048), Row(rows, "adam8bit-min8k").StateBytes);
        Assert.Equal(13_503_153_168L - 65 * (2 * 4096 + 2 * 4 * 2) + 65 * 8 * 4096, Row(rows, "adam8bit-min8k").StateBytes);
        Assert.Equal(Adam8bit(sizes, 4096, 256), Row(rows, "adam8bit-b256").StateBytes);

        // Per role: the 7B's matrices, norms, embedding and head.
        Assert.Equal(L * (4 * D * D + 3 * D * F), adamw.MatrixParams);
        Assert.Equal((2 * L + 1) * D, adamw.VectorParams);
        Assert.Equal(V * D, adamw.EmbeddingParams);
        Assert.Equal(V * D, adamw.OutputHeadParams);
        Assert.Equal(adamw.StateBytes, adamw.MatrixStateBytes + adamw.VectorStateBytes + adamw.EmbeddingStateBytes + adamw.OutputHeadStateBytes);
    }

    [Fact]
    public void A_7b_plan_of_every_optimizer_takes_seconds_and_allocates_no_weights()
    {
        var kinds = OptimizerCatalog.All.Select(d => $"{{ kind: {d.Kind} }}").ToArray();
        var config = Config("{ kind: llama, size: 7b, vocab_size: 32000 }", "bfloat16", kinds);
        using var process = Process.GetCurrentProcess();
        var before = process.WorkingSet64;
        var watch = Stopwatch.StartNew();
        var rows = MemoryPlanner.Plan(config);
        watch.Stop();
        process.Refresh();
        var grown = process.WorkingSet64 - before;
        output.WriteLine($"7B plan of {rows.Count} optimizers: {watch.Elapsed.TotalMilliseconds:F0} ms, working set +{grown / 1048576.0:F0} MiB");
        Assert.Equal(OptimizerCatalog.All.Count, rows.Count);
        Assert.All(rows.Where(r => r.Optimizer != "qgalore"), r => Assert.Equal(2 * r.Params, r.WeightBytes)); // bf16
        // Q-GaLore's INT8 matrices: a code per weight + a float32 scale and a uint8 zero point per 256 (7B's matrices divide evenly).
        var q = rows.Single(r => r.Optimizer == "qgalore");
        Assert.Equal(2 * (q.Params - q.MatrixParams) + q.MatrixParams + 5 * q.MatrixParams / 256, q.WeightBytes);
        Assert.Equal(2 * q.Params, q.GradientBytes);
        // bf16 weights alone are 12.6 GiB: a plan that built the model could not stay under 1 GiB of growth.
        Assert.True(grown < 1L << 30, $"working set grew by {grown} bytes");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"the plan took {watch.Elapsed}");
    }

    [Fact]
    public void Shape_parameters_live_on_the_meta_device_with_the_given_shapes()
    {
        using var scope = NewDisposeScope();
        var shapes = LlamaConfig.Resolve("7b", 32000).ParameterShapes();
        var ps = ShapeParameters.Create(shapes, ScalarType.BFloat16);
        Assert.All(ps, p => Assert.Equal(TorchSharp.DeviceType.META, p.Value.device_type));
        Assert.Equal(shapes.Select(s => s.Shape.ToArray()), ps.Select(p => p.Value.shape));
        Assert.Equal(2L, ps[0].Value.element_size());
    }

    public static TheoryData<string, string> Presets => new() { { "llama", "tiny" }, { "llama", "20m" }, { "gpt2", "tiny" }, { "gpt2", "small" } };

    [Theory]
    [MemberData(nameof(Presets))]
    public void Planned_shapes_and_roles_are_the_instantiated_models_parameters(string kind, string size)
    {
        using var init = new Generator(0, CPU);
        using var scope = NewDisposeScope();
        var (planned, built, count) = kind == "llama"
            ? Both(LlamaConfig.Resolve(size, 256), c => c.ParameterShapes(), c => new Llama(c, init).NamedParameters(), c => c.ParameterCount)
            : Both(Gpt2Config.Resolve(size, 50257), c => c.ParameterShapes(), c => new Gpt2(c, init).NamedParameters(), c => c.ParameterCount);
        Assert.Equal(built.Select(p => p.Name), planned.Select(s => s.Name));
        Assert.Equal(built.Select(p => p.Value.shape), planned.Select(s => s.Shape.ToArray()));
        Assert.Equal(built.Select(p => p.Role), planned.Select(s => s.Role));
        Assert.Equal(count, planned.Sum(s => s.Numel));
    }

    private static (IReadOnlyList<ParameterShape>, IReadOnlyList<NamedParameter>, long) Both<TConfig>(TConfig config,
        Func<TConfig, IReadOnlyList<ParameterShape>> shapes, Func<TConfig, IReadOnlyList<NamedParameter>> build, Func<TConfig, long> count) =>
        (shapes(config), build(config), count(config));

    [Fact]
    public void A_tiny_plan_equals_the_state_bytes_real_optimizers_measure_after_a_step()
    {
        var kinds = OptimizerCatalog.All.Select(d => $"{{ kind: {d.Kind} }}").ToArray();
        // Sizes on both sides of 8-bit Adam's 4096-element threshold, and a partial absmax block (300 x 64 = 19,200).
        var config = Config("{ kind: llama, vocab_size: 300, hidden: 64, heads: 2, layers: 1, ffn: 128 }", "float32", kinds);
        var rows = MemoryPlanner.Plan(config);
        var model = LlamaConfig.Resolve("tiny", 300, hidden: 64, layers: 1, heads: 2, ffn: 128);
        foreach (var variant in config.Optimizers)
        {
            using var scope = NewDisposeScope();
            using var init = new Generator(1, CPU);
            using var llama = new Llama(model, init);
            var ps = llama.NamedParameters();
            // Small integers: few distinct block-normalised values keep Gefen's first-step codebook search short.
            foreach (var p in ps) p.Value.grad = randint(-2, 3, p.Value.shape, generator: init).to_type(ScalarType.Float32);
            var descriptor = OptimizerCatalog.Find(variant.Kind)!;
            using var optimizer = descriptor.Create(ps, variant.Options);
            optimizer.Step(1e-3);
            var row = Row(rows, variant.Label);
            output.WriteLine($"{variant.Kind}: measured {optimizer.StateBytes:N0}, planned {row.StateBytesMin:N0}..{row.StateBytes:N0} ({row.StateKind})");
            Assert.Equal(ps.Sum(p => p.Value.numel()), row.Params);
            if (row.StateKind == "exact") Assert.Equal(row.StateBytes, optimizer.StateBytes);
            else Assert.InRange(optimizer.StateBytes, row.StateBytesMin, row.StateBytes);
        }
    }

    [Fact]
    public void A_workload_without_a_shape_description_is_refused_by_name()
    {
        var config = Config("{ kind: mlp }", "float32", "{ kind: adamw }");
        var e = Assert.Throws<ArgumentException>(() => MemoryPlanner.Plan(config));
        Assert.Contains("'mlp' has no shape description", e.Message);
        Assert.Contains("llama", e.Message);
    }
}
