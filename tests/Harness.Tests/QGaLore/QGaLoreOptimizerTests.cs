using Harness.Core.Config;
using Harness.Optimizers;
using Harness.Optimizers.LowRank;
using Harness.Optimizers.QGaLore;
using Harness.Optimizers.Quantization;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Harness.Tests.QGaLore;

public sealed class QGaLoreOptimizerTests
{
    // down_proj-like (wide: left basis) and gate-like (tall: right basis) matrices plus a vector.
    private static List<NamedParameter> Parameters(ulong seed)
    {
        var gen = new TorchSharp.torch.Generator(seed);
        return
        [
            new("down", new Parameter(randn([48, 128], generator: gen).mul_(0.05), requires_grad: true), ParamRole.Matrix),
            new("gate", new Parameter(randn([128, 48], generator: gen).mul_(0.05), requires_grad: true), ParamRole.Matrix),
            new("norm", new Parameter(randn([48], generator: gen), requires_grad: true), ParamRole.Vector),
        ];
    }

    private static List<List<Tensor>> Gradients(ulong seed, int steps, IReadOnlyList<NamedParameter> ps)
    {
        var gen = new TorchSharp.torch.Generator(seed);
        // A shared low-rank structure plus noise: successive top singular vectors stay aligned, so the gap grows.
        var u = randn([48, 2], generator: gen);
        var v = randn([2, 128], generator: gen);
        return Enumerable.Range(0, steps).Select(_ => ps.Select(p => p.Name switch
        {
            "down" => u.matmul(v) + 0.01 * randn([48, 128], generator: gen),
            "gate" => v.t().matmul(u.t()) + 0.01 * randn([128, 48], generator: gen),
            _ => randn(p.Value.shape, generator: gen),
        }).ToList()).ToList();
    }

    private static void Feed(IOptimizer o, IReadOnlyList<NamedParameter> ps, List<Tensor> grads, double lr)
    {
        for (var i = 0; i < ps.Count; i++) ps[i].Value.grad = grads[i];
        o.Step(lr);
    }

    private static readonly QGaLoreOptions Small = new() { Rank = 8, UpdateProjGap = 1, ProjGroupSize = 128, QueueSize = 2, Lr = 0.01 };

    [Fact]
    public void State_bytes_equal_codes_plus_scales_plus_moments_plus_schedule()
    {
        using var scope = NewDisposeScope();
        var ps = Parameters(1);
        using var o = new Harness.Optimizers.QGaLore.QGaLore(ps, Small);
        Feed(o, ps, Gradients(2, 1, ps)[0], Small.Lr);

        // Each 48×128 or 128×48 matrix, r' = 8: moments 2·8·128·4 = 8192; codes 48·8 = 384 in 3 groups of 128:
        // scales 3·4 + zeros 3·1 = 15; top vector 48·4 = 192; gap counters 24 + queue 2·8 = 16. The vector: 2·48·4 = 384.
        const long matrix = 8192 + 384 + 15 + 192 + 24 + 16;
        Assert.Equal(2 * matrix + 384, o.StateBytes);
        Assert.Equal(o.StateBytes, OptimizerCatalog.Find("qgalore")!.ExpectedStateBytes(ps, Small));
        // Without projection quantization the basis is 48·8 float32 values instead of codes, scales and zeros.
        var unquantized = Small with { ProjQuant = false };
        using var o2 = new Harness.Optimizers.QGaLore.QGaLore(ps, unquantized);
        Feed(o2, ps, Gradients(2, 1, ps)[0], Small.Lr);
        Assert.Equal(2 * (matrix - 384 - 15 + 4 * 384) + 384, o2.StateBytes);
        Assert.Equal(o2.StateBytes, Harness.Optimizers.QGaLore.QGaLore.ExpectedStateBytes(ps, unquantized));
    }

    [Fact]
    public void A_checkpoint_mid_run_continues_bit_identically_with_gaps_queues_and_rounding()
    {
        using var scope = NewDisposeScope();
        var original = Parameters(3);
        var grads = Gradients(4, 16, original);
        using var first = new Harness.Optimizers.QGaLore.QGaLore(original, Small);
        for (var t = 0; t < 8; t++) Feed(first, original, grads[t], Small.Lr);

        var saved = first.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        // The schedule has moved: the gap doubled after the queue of 2 filled with aligned vectors.
        Assert.True(saved["down/gap_counters"].data<long>()[0] > 1, "the gap never grew; the test would not cover it");
        var restored = original.Select(p => new NamedParameter(p.Name, new Parameter(p.Value.detach().clone(), requires_grad: true), p.Role)).ToList();
        using var second = new Harness.Optimizers.QGaLore.QGaLore(restored, Small);
        second.LoadStateDict(saved);
        Assert.Equal(first.StateBytes, second.StateBytes);

        for (var t = 8; t < 16; t++)
        {
            Feed(first, original, grads[t], Small.Lr);
            Feed(second, restored, grads[t], Small.Lr);
        }
        for (var i = 0; i < original.Count; i++)
            Assert.True(original[i].Value.equal(restored[i].Value).all().item<bool>(), $"'{original[i].Name}' differs after the round trip");
        foreach (var (key, t) in first.StateDict())
            if (!key.EndsWith("/step", StringComparison.Ordinal))
                Assert.True(t.equal(second.StateDict()[key]).all().item<bool>(), $"state '{key}' differs");
    }

    [Fact]
    public void Projected_weights_land_on_their_int8_grid_and_other_parameters_do_not()
    {
        using var scope = NewDisposeScope();
        var ps = Parameters(5);
        using var o = new Harness.Optimizers.QGaLore.QGaLore(ps, Small);
        Feed(o, ps, Gradients(6, 1, ps)[0], Small.Lr);

        foreach (var p in ps.Where(p => p.Role == ParamRole.Matrix))
            Assert.True(OnOneGrid(p.Value.detach(), 256, 8), $"'{p.Name}' is off its INT8 grid");
        Assert.False(OnOneGrid(ps[2].Value.detach(), 48, 8), "the test cannot tell a grid from random values");
    }

    // Per group: at most 2^bits distinct values, all integer multiples of one step above the group minimum.
    private static bool OnOneGrid(Tensor w, int group, int bits)
    {
        foreach (var g in w.reshape(-1, group).unbind(0))
        {
            var (u, _, _) = g.unique(sorted: true);
            if (u.numel() > 1 << bits) return false;
            var n = u.numel();
            var d = (u.narrow(0, 1, n - 1) - u.narrow(0, 0, n - 1)).min();
            var k = (u - u[0]) / d;
            if ((k - k.round()).abs().max().item<float>() > 1e-2) return false;
        }
        return true;
    }

    [Fact]
    public void One_step_without_stochastic_rounding_is_projected_bnb_adam_then_round_to_nearest()
    {
        using var scope = NewDisposeScope();
        var ps = Parameters(7).Take(1).ToList();
        var w0 = ps[0].Value.detach().clone();
        var g = Gradients(8, 1, ps)[0][0];
        var options = Small with { StochasticRound = false };
        using var o = new Harness.Optimizers.QGaLore.QGaLore(ps, options);
        Feed(o, ps, [g], options.Lr);

        // First bnb Adam step: m̂ = R, v̂ = R², so the direction is R / (|R| + ε).
        using var projector = new QuantizedSvdProjector(48, 128, options.ProjectorSettings(), CPU);
        var r = projector.Project(g, 0);
        var expected = w0 - options.Lr * projector.ProjectBack(r / (r.abs() + options.Eps));
        var onGrid = GroupQuantizer.FakeQuantize(expected, 256, 8, null);
        // Equal to float rounding; an element sitting on a rounding midpoint may land one grid step away.
        var diff = (ps[0].Value - onGrid).abs();
        var gridStep = (expected.view(-1, 256).amax([1]) - expected.view(-1, 256).amin([1])).max().item<float>() / 255;
        Assert.True(diff.gt(1e-6).sum().item<long>() <= 2, $"{diff.gt(1e-6).sum().item<long>()} elements differ");
        Assert.True(diff.max().item<float>() <= gridStep * 1.01, $"max diff {diff.max().item<float>():e3}");
        Assert.False(ps[0].Value.equal(w0).all().item<bool>());
    }

    [Fact]
    public void The_run_seed_changes_the_rounding_draws_and_the_same_seed_repeats_them()
    {
        using var scope = NewDisposeScope();
        Tensor Run(int runSeed)
        {
            var ps = Parameters(9);
            using var o = new Harness.Optimizers.QGaLore.QGaLore(ps, (QGaLoreOptions)Small.WithRunSeed(runSeed));
            Feed(o, ps, Gradients(10, 1, ps)[0], Small.Lr);
            return ps[0].Value.detach().clone();
        }

        Assert.True(Run(0).equal(Run(0)).all().item<bool>());
        Assert.False(Run(0).equal(Run(1)).all().item<bool>());
    }

    [Fact]
    public void Bad_options_are_reported_by_key()
    {
        var bad = new QGaLoreOptions
        {
            Rank = 0, UpdateProjGap = 0, ProjBits = 1, ProjGroupSize = 0, WeightBits = 9, WeightGroupSize = -1,
            GammaProj = 0.5, QueueSize = 0, CosThreshold = 2,
        };

        var keys = bad.Validate().Select(p => p.Key).ToHashSet();

        Assert.Equal(new HashSet<string> { "rank", "update_proj_gap", "proj_bits", "proj_group_size", "weight_bits",
            "weight_group_size", "gamma_proj", "queue_size", "cos_threshold" }, keys);
        Assert.Empty(new QGaLoreOptions().Validate());
        Assert.Contains(new QGaLoreOptions { ProjBits = 16 }.Validate(), p => p.Key == "proj_bits");
    }

    [Fact]
    public void Bad_options_in_yaml_are_config_errors_with_lines()
    {
        const string yaml = """
            name: t
            workload: { kind: llama }
            optimizers:
              - kind: qgalore
                proj_bits: 16
                proj_group_size: 0
                rank: 0
            """;

        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, "q.yaml"));

        Assert.Equal([5, 6, 7], e.Problems.Select(p => p.Line).Order());
        Assert.Contains(e.Problems, p => p.Line == 5 && p.Message.Contains("proj_bits", StringComparison.Ordinal));
    }
}
