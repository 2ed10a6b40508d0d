using Harness.Core.Traces;
using Harness.Experiments.Models;
using Harness.Optimizers;
using Harness.Optimizers.AdamW;
using Harness.Tests.Golden;
using Xunit.Abstractions;
using static TorchSharp.torch;
using GefenOptimizer = Harness.Optimizers.Gefen.Gefen;
using GefenOptions = Harness.Optimizers.Gefen.GefenOptions;
using Parameter = TorchSharp.Modules.Parameter;

namespace Harness.Tests.Gefen;

public sealed class GefenTests(ITestOutputHelper output)
{
    private static NamedParameter Param(string name, Tensor value) => new(name, new Parameter(value, requires_grad: true), ParamRole.Matrix);

    // A fresh optimizer's state preset the way the spec's hooks do (codebook and period given, zero moments).
    private static Dictionary<string, Tensor> Preset(string name, long[] shape, long period, Tensor codebook)
    {
        var n = shape.Aggregate(1L, (a, b) => a * b);
        return new()
        {
            [$"{name}/step"] = tensor(0L),
            [$"{name}/period"] = tensor(period),
            [$"{name}/param_shape"] = tensor(shape),
            [$"{name}/m_codebook"] = zeros([n / period, period], ScalarType.Byte),
            [$"{name}/m_magnitude"] = zeros(n / period, 1),
            [$"{name}/vmean"] = zeros(n / period, 1),
            [GefenOptimizer.CodebookKey] = codebook,
        };
    }

    private static State Of(GefenOptimizer o, string name) => new(
        o.StateDict()[$"{name}/vmean"].reshape(-1), o.StateDict()[$"{name}/m_magnitude"].reshape(-1), o.StateDict()[$"{name}/m_codebook"]);

    private sealed record State(Tensor V, Tensor Mu, Tensor Q);

    private static void AssertClose(float[] expected, Tensor actual, double tol)
    {
        var a = actual.to(ScalarType.Float32).reshape(-1).data<float>().ToArray();
        Assert.Equal(expected.Length, a.Length);
        for (var i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - expected[i]) <= tol, $"[{i}] {a[i]} vs {expected[i]}");
    }

    [Fact]
    public void The_worked_two_step_example_of_the_spec_is_reproduced()
    {
        using var scope = NewDisposeScope();
        var p = Param("w", tensor(new float[] { .5f, .5f, .5f, .5f, -1, 0, 1, 2 }).reshape(2, 4));
        using var opt = new GefenOptimizer([p], new GefenOptions { Lr = 0.1 });
        opt.LoadStateDict(Preset("w", [2, 4], 4, linspace(-1, 1, 256)));

        p.Value.grad = tensor(new float[] { .1f, -.2f, .3f, -.4f, 1, 2, 3, 4 }).reshape(2, 4);
        opt.Step(0.1);
        var s = Of(opt, "w");
        AssertClose([7.5e-5f, 7.5e-3f], s.V, 1e-9);
        AssertClose([0.04f, 0.4f], s.Mu, 1e-7);
        Assert.Equal(new byte[] { 159, 64, 223, 0, 159, 191, 223, 255 }, s.Q.reshape(-1).data<byte>().ToArray());
        AssertClose([0.4639148f, 0.5727433f, 0.3905987f, 0.6460593f, -1.0360853f, -0.0727433f, 0.8905987f, 1.8539407f], p.Value, 1e-6);

        p.Value.grad = tensor(new float[] { 0, 0, 0, 0, -4, 0, 0, 1 }).reshape(2, 4);
        opt.Step(0.1);
        s = Of(opt, "w");
        AssertClose([7.4925e-5f, 0.0117425f], s.V, 1e-8);
        AssertClose([0.036f, 0.46f], s.Mu, 1e-7);
        Assert.Equal(new byte[] { 159, 64, 223, 0, 41, 177, 202, 255 }, s.Q.reshape(-1).data<byte>().ToArray());
        AssertClose([0.4397355f, 0.6214855f, 0.3172934f, 0.7439276f, -0.9683154f, -0.1115249f, 0.8322305f, 1.7540487f], p.Value, 1e-6);
    }

    [Theory]
    [InlineData(false, 256)]
    [InlineData(true, 3)]
    public void A_sparse_first_histogram_gives_the_uniform_grid_unless_reference_padding_is_asked(bool pad, int distinct)
    {
        using var scope = NewDisposeScope();
        // Only P = 1 tensors: every normalised value is -1 or +1, two active bins.
        var b = Param("b", zeros(8));
        using var opt = new GefenOptimizer([b], new GefenOptions { PadSparseCodebook = pad });
        b.Value.grad = randn([8], generator: new Generator(5));
        opt.Step(1e-3);

        var book = opt.DerivedTensors[GefenOptimizer.CodebookKey].data<float>().ToArray();
        Assert.Equal(distinct, book.Distinct().Count());
        Assert.Equal(-1f, book[0]);
        Assert.Equal(1f, book[^1]);
        if (!pad) Assert.Equal(-1f + 2f * 100 / 255, book[100], 6);
    }

    [Fact]
    public void Nearest_codeword_breaks_ties_to_the_lower_index_and_clamps_outside()
    {
        using var scope = NewDisposeScope();
        var c = linspace(-1, 1, 256);
        var mid = (c[10] + c[11]) / 2;
        var idx = Harness.Optimizers.Gefen.CodebookDp.Nearest(c, stack([tensor(0f), tensor(-2f), tensor(2f), mid, c[200]])).data<long>().ToArray();
        Assert.Equal(new long[] { 127, 0, 255, 10, 200 }, idx);
    }

    [Fact]
    public void The_golden_trace_passes_with_the_reference_periods_and_codebook()
    {
        var report = new TraceChecker().Check(GoldenPaths.CaseAManifest, "gefen");
        output.WriteLine(report.ToTable());

        Assert.True(report.Passed, report.ToTable());
        Assert.Equal(21 * 6, report.Errors.Count);
        Assert.InRange(report.Worst!.Error, 0, 1e-3);
        var diagnostics = report.Diagnostics!.ToDictionary(d => d.Name);
        Assert.Equal(["gefen_periods", "gefen.codebook"], diagnostics.Keys.Order(StringComparer.Ordinal).Reverse());
        Assert.All(diagnostics.Values, d => Assert.True(d.Passed, d.Detail));
        Assert.Contains("21 entries", diagnostics["gefen_periods"].Detail);
    }

    [Fact]
    public void A_period_other_than_the_reference_fails_the_trace_check()
    {
        using var tmp = GoldenPaths.CopyCaseA(m => m["optimizers"]!["gefen"]!["gefen_periods"]!["lm_head.weight"] = 96, "gradients", "gefen");

        var report = new TraceChecker().Check(tmp.ManifestPath, "gefen");

        Assert.Equal(TraceStatus.Failed, report.Status);
        var periods = report.Diagnostics!.Single(d => d.Name == "gefen_periods");
        Assert.False(periods.Passed);
        Assert.Contains("lm_head.weight: ours 48, reference 96", periods.Detail);
        Assert.Contains("DIFFERENT", report.ToTable());
    }

    [Fact]
    public void State_bytes_are_exact_for_the_spec_shapes()
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(3);
        // (48, 96) with row structure: P = 96 → 4608 + 192 + 192; (768,) zero gradient: P = 1, D = 256 → 768 + 3072 + 12.
        var w = Param("w", zeros(48, 96));
        var b = Param("b", zeros(768));
        using var opt = new GefenOptimizer([w, b], new GefenOptions());
        w.Value.grad = randn([48, 96], generator: gen) * exp(randn([48, 1], generator: gen).mul_(2));
        b.Value.grad = zeros(768);
        var formula = GefenOptimizer.ExpectedStateBytesFromGradients([w, b], new GefenOptions());
        opt.Step(1e-3);

        Assert.Equal(96, opt.ParameterChoices["gefen_periods"]["w"]);
        Assert.Equal(1, opt.ParameterChoices["gefen_periods"]["b"]);
        Assert.Equal(4992 + 3852 + 1024, opt.StateBytes);
        Assert.Equal(opt.StateBytes, formula);
        Assert.Equal(opt.StateBytes, opt.ExpectedStateBytes);
        Assert.Equal([3L, 1], opt.StateDict()["b/m_magnitude"].shape);
        Assert.Equal(9, GefenOptimizer.TensorStateBytes(1, 1, 4));
        Assert.Equal(4608 + 96 + 96, GefenOptimizer.TensorStateBytes(48 * 96, 96, 2));
    }

    [Theory]
    [InlineData(false, ScalarType.BFloat16)]
    [InlineData(true, ScalarType.Float32)]
    public void State_dtype_follows_bf16_gradients_unless_fp32_state_is_asked(bool fp32State, ScalarType expected)
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(4);
        var w = new NamedParameter("w", new Parameter(zeros(48, 96, ScalarType.BFloat16), requires_grad: true), ParamRole.Matrix);
        var options = new GefenOptions { Fp32State = fp32State };
        using var opt = new GefenOptimizer([w], options);
        w.Value.grad = (randn([48, 96], generator: gen) * exp(randn([48, 1], generator: gen).mul_(2))).to(ScalarType.BFloat16);
        var formula = GefenOptimizer.ExpectedStateBytesFromGradients([w], options);
        opt.Step(1e-3);

        Assert.Equal(expected, opt.StateDict()["w/vmean"].dtype);
        Assert.Equal(ScalarType.Byte, opt.StateDict()["w/m_codebook"].dtype);
        Assert.Equal(formula, opt.StateBytes);
        Assert.Equal(4608 + 2 * 48 * (expected == ScalarType.Float32 ? 4 : 2) + 1024, opt.StateBytes);
    }

    [Fact]
    public void On_the_tiny_llama_the_state_is_about_an_eighth_of_adamw()
    {
        using var scope = NewDisposeScope();
        var config = LlamaConfig.Resolve("tiny", 256);
        using var g = new Generator(1, CPU);
        using var model = new Llama(config, g);
        var ps = model.NamedParameters();
        var tokens = randint(0, 256, [4, 33], generator: new Generator(2), dtype: ScalarType.Int64);
        var logits = model.forward(tokens[.., ..32]);
        nn.functional.cross_entropy(logits.reshape(-1, 256), tokens[.., 1..].reshape(-1)).backward();

        var formula = GefenOptimizer.ExpectedStateBytesFromGradients(ps, new GefenOptions());
        using var gefen = new GefenOptimizer(ps, new GefenOptions());
        using var adamw = new AdamW(ps, new AdamWOptions());
        gefen.Step(1e-3);
        adamw.Step(1e-3);

        var ratio = (double)gefen.StateBytes / adamw.StateBytes;
        var periods = gefen.ParameterChoices["gefen_periods"];
        output.WriteLine($"gefen {gefen.StateBytes} B, adamw {adamw.StateBytes} B, ratio {ratio:F4}; periods: {string.Join(", ", periods.Select(kv => $"{kv.Key}={kv.Value}"))}");
        Assert.Equal(formula, gefen.StateBytes);
        Assert.Equal(8L * config.ParameterCount, adamw.StateBytes);
        // 1 B/param + 2·4/P (+5 B/param on the few P = 1 vectors) + 1 KiB: between 1/8 and ~1/6.5 of AdamW's 8 B/param.
        Assert.InRange(ratio, 1.0 / 8, 1.0 / 6.5);
    }

    private static List<Tensor> Grads(Generator gen, int count) =>
        Enumerable.Range(0, count).SelectMany(_ => new[] { randn([16, 48], generator: gen) * exp(randn([16, 1], generator: gen)), randn([48], generator: gen) }).ToList();

    [Fact]
    public void A_checkpoint_round_trip_keeps_codebook_periods_and_steps_and_continues_bit_identically()
    {
        using var scope = NewDisposeScope();
        var grads = Grads(new Generator(9), 10);
        List<NamedParameter> Make() => [Param("w", ones(16, 48)), Param("b", ones(48))];
        var a = Make();
        using var first = new GefenOptimizer(a, new GefenOptions { WeightDecay = 0.1 });
        for (var t = 0; t < 5; t++) { a[0].Value.grad = grads[2 * t]; a[1].Value.grad = grads[2 * t + 1]; first.Step(1e-2); }
        var saved = first.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());

        var b = Make();
        for (var i = 0; i < 2; i++) using (no_grad()) b[i].Value.copy_(a[i].Value);
        using var second = new GefenOptimizer(b, new GefenOptions { WeightDecay = 0.1 });
        second.LoadStateDict(saved);

        Assert.Equal(first.ParameterChoices["gefen_periods"], second.ParameterChoices["gefen_periods"]);
        Assert.True(first.DerivedTensors["gefen.codebook"].equal(second.DerivedTensors["gefen.codebook"]).all().item<bool>());
        Assert.Equal(5, second.GlobalStep);
        Assert.Equal(5, second.StateDict()["w/step"].item<long>());
        Assert.Equal(first.StateBytes, second.StateBytes);
        for (var t = 5; t < 10; t++)
        {
            foreach (var (ps, o) in new[] { (a, first), (b, second) })
            {
                ps[0].Value.grad = grads[2 * t]; ps[1].Value.grad = grads[2 * t + 1]; o.Step(1e-2);
            }
        }
        for (var i = 0; i < 2; i++) Assert.True(a[i].Value.equal(b[i].Value).all().item<bool>(), $"{a[i].Name} differs after the round trip");
        Assert.Equal(10, second.GlobalStep);
    }

    [Fact]
    public void Loading_per_parameter_state_without_the_codebook_is_an_error()
    {
        using var scope = NewDisposeScope();
        var grads = Grads(new Generator(10), 1);
        var ps = new List<NamedParameter> { Param("w", ones(16, 48)), Param("b", ones(48)) };
        using var first = new GefenOptimizer(ps, new GefenOptions());
        ps[0].Value.grad = grads[0]; ps[1].Value.grad = grads[1];
        first.Step(1e-2);
        var saved = first.StateDict().Where(kv => kv.Key != GefenOptimizer.CodebookKey).ToDictionary();

        using var second = new GefenOptimizer(ps, new GefenOptions());
        var e = Assert.Throws<OptimizerStateException>(() => second.LoadStateDict(saved));
        Assert.Contains("gefen.codebook", e.Message);
        Assert.Equal(0, second.StateBytes);
    }

    [Fact]
    public void Learning_rate_zero_keeps_parameters_and_weight_decay_alone_shrinks_them_geometrically()
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(12);
        var p0 = randn([16, 48], generator: gen);
        var frozen = Param("w", p0.clone());
        using (var opt = new GefenOptimizer([frozen], new GefenOptions()))
        {
            for (var t = 0; t < 3; t++) { frozen.Value.grad = randn([16, 48], generator: gen); opt.Step(0); }
            Assert.True(frozen.Value.equal(p0).all().item<bool>());
            Assert.True(opt.StateDict()["w/vmean"].sum().item<float>() > 0);
        }

        var decayed = Param("w", p0.clone());
        using var wd = new GefenOptimizer([decayed], new GefenOptions { WeightDecay = 0.5 });
        for (var t = 0; t < 3; t++) { decayed.Value.grad = zeros(16, 48); wd.Step(0.1); }
        var expected = p0 * (float)(1 - 0.1 * 0.5) * (float)(1 - 0.1 * 0.5) * (float)(1 - 0.1 * 0.5);
        Assert.True(decayed.Value.allclose(expected, rtol: 1e-6, atol: 0));
    }
}
