using Harness.Experiments.Models;
using Harness.Optimizers;
using Harness.Optimizers.LowRank;
using Harness.Optimizers.QGaLore;
using Harness.Optimizers.Quantization;
using Xunit.Abstractions;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Harness.Tests.QGaLore;

/// <summary>Q-GaLore's <c>moments: int8 | fp32</c>: bnb 8-bit blockwise moments in the projected space.</summary>
public sealed class QGaLoreMomentsTests(ITestOutputHelper output)
{
    // A wide matrix whose projected moments (32×256 = 8192 ≥ min_8bit_size) are 8-bit in 4 blocks, plus a vector.
    private static List<NamedParameter> Parameters(ulong seed)
    {
        var gen = new TorchSharp.torch.Generator(seed);
        return
        [
            new("w", new Parameter(randn([64, 256], generator: gen).mul_(0.05), requires_grad: true), ParamRole.Matrix),
            new("norm", new Parameter(randn([64], generator: gen), requires_grad: true), ParamRole.Vector),
        ];
    }

    private static List<List<Tensor>> Gradients(ulong seed, int steps, IReadOnlyList<NamedParameter> ps)
    {
        var gen = new TorchSharp.torch.Generator(seed);
        return Enumerable.Range(0, steps).Select(_ => ps.Select(p => randn(p.Value.shape, generator: gen)).ToList()).ToList();
    }

    private static void Feed(IOptimizer o, IReadOnlyList<NamedParameter> ps, List<Tensor> grads, double lr)
    {
        for (var i = 0; i < ps.Count; i++) ps[i].Value.grad = grads[i];
        o.Step(lr);
    }

    private static readonly QGaLoreOptions Exact = new() { Rank = 32, UpdateProjGap = 50, WeightQuant = false, Lr = 0.01, Implementation = "tensor-ops" };

    [Fact]
    public void State_bytes_on_the_tiny_LLaMA_equal_the_formula_for_both_moment_settings()
    {
        using var scope = NewDisposeScope();
        using var g = new TorchSharp.torch.Generator(1, CPU);
        var config = LlamaConfig.Resolve("tiny", 256);
        using var model = new Llama(config, g);
        var ps = model.NamedParameters().ToList();
        var bytes = new Dictionary<QGaLoreMoments, long>();
        foreach (var moments in new[] { QGaLoreMoments.Int8, QGaLoreMoments.Fp32 })
        {
            var o = new QGaLoreOptions { Moments = moments };
            using var opt = new Harness.Optimizers.QGaLore.QGaLore(ps, o);
            foreach (var p in ps) p.Value.grad = randn(p.Value.shape, generator: g).mul_(1e-3);
            opt.Step(1e-3);

            // By hand: moments of k elements cost 2k + 8·⌈k/2048⌉ (int8, k ≥ 4096), 8k otherwise; plus the basis.
            long expected = 0;
            foreach (var p in ps)
            {
                var projected = p.Role == ParamRole.Matrix && p.Value.dim() == 2;
                var k = projected ? Math.Min(32, p.Value.shape.Min()) * p.Value.shape.Max() : p.Value.numel();
                expected += moments == QGaLoreMoments.Int8 && k >= 4096 ? 2 * k + 8 * ((k + 2047) / 2048) : 8 * k;
                if (projected) expected += QuantizedSvdProjector.StateBytes(p.Value.shape[0], p.Value.shape[1], o.ProjectorSettings());
            }
            Assert.Equal(expected, opt.StateBytes);
            Assert.Equal(expected, OptimizerCatalog.Find("qgalore")!.ExpectedStateBytes(ps, o));
            bytes[moments] = opt.StateBytes;
            output.WriteLine($"tiny LLaMA qgalore state bytes, moments={moments}: {opt.StateBytes}");
        }
        // The projected moments of every tiny-LLaMA matrix reach min_8bit_size, so int8 must save memory.
        Assert.True(bytes[QGaLoreMoments.Int8] < bytes[QGaLoreMoments.Fp32] * 0.6, $"{bytes[QGaLoreMoments.Int8]} vs {bytes[QGaLoreMoments.Fp32]}");
    }

    [Fact]
    public void Int8_steps_are_project_then_adam8bit_moments_step_then_project_back()
    {
        using var scope = NewDisposeScope();
        var ps = Parameters(11);
        var w0 = ps[0].Value.detach().clone();
        var n0 = ps[1].Value.detach().clone();
        var grads = Gradients(12, 2, ps);
        using var o = new Harness.Optimizers.QGaLore.QGaLore(ps, Exact);
        Assert.Equal("tensor-ops (8-bit moments)", o.Implementation);

        using var projector = new QuantizedSvdProjector(64, 256, Exact.ProjectorSettings(), CPU);
        using var maps = new Adam8bitCodebooks(CPU);
        var (m1, m2, a1, a2) = Adam8bitMoments.Create([32, 256], quantize: true, Exact.BlockSize, CPU);
        var (v1, v2, _, _) = Adam8bitMoments.Create([64], quantize: false, Exact.BlockSize, CPU);
        var (w, n) = (w0, n0);
        for (var t = 1; t <= 2; t++)
        {
            Feed(o, ps, grads[t - 1], Exact.Lr);
            var r = projector.Project(grads[t - 1][0], t - 1);
            var (d, _) = Adam8bitMoments.Step(m1, m2, a1, a2, r, maps, Exact.BlockSize, 0.9f, 0.95f, 1e-8f, 0.01f, t);
            w = w + projector.ProjectBack(d.reshape(r.shape));
            var (dn, _) = Adam8bitMoments.Step(v1, v2, null, null, grads[t - 1][1], maps, Exact.BlockSize, 0.9f, 0.95f, 1e-8f, 0.01f, t);
            n = n + dn;
            Assert.True(ps[0].Value.equal(w).all().item<bool>(), $"step {t}: W differs by {(ps[0].Value - w).abs().max().item<float>():e3}");
            Assert.True(ps[1].Value.equal(n).all().item<bool>(), $"step {t}: the vector differs");
        }
        var state = o.StateDict();
        Assert.Equal(ScalarType.Byte, state["w/state1"].dtype);
        Assert.True(state["w/state1"].equal(m1).all().item<bool>() && state["w/state2"].equal(m2).all().item<bool>());
        Assert.True(state["w/absmax1"].equal(a1!).all().item<bool>() && state["w/absmax2"].equal(a2!).all().item<bool>());

        // fp32 moments give a different (unquantized) second step.
        var fp = Parameters(11);
        using var o2 = new Harness.Optimizers.QGaLore.QGaLore(fp, Exact with { Moments = QGaLoreMoments.Fp32 });
        Assert.Equal("tensor-ops (fp32 moments)", o2.Implementation);
        foreach (var gs in grads) Feed(o2, fp, gs, Exact.Lr);
        var gap = (fp[0].Value - ps[0].Value).abs().max().item<float>();
        Assert.True(gap > 0 && gap < 1e-2 * Exact.Lr * 100, $"fp32 vs int8 gap {gap:e3}");
    }

    [Fact]
    public void A_checkpoint_with_8bit_moments_continues_bit_identically()
    {
        using var scope = NewDisposeScope();
        var options = Exact with { WeightQuant = true, UpdateProjGap = 2 };
        var original = Parameters(21);
        var grads = Gradients(22, 8, original);
        using var first = new Harness.Optimizers.QGaLore.QGaLore(original, options);
        for (var t = 0; t < 4; t++) Feed(first, original, grads[t], options.Lr);
        var saved = first.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        Assert.Contains("w/absmax2", saved.Keys);

        var restored = original.Select(p => new NamedParameter(p.Name, new Parameter(p.Value.detach().clone(), requires_grad: true), p.Role)).ToList();
        using var second = new Harness.Optimizers.QGaLore.QGaLore(restored, options);
        second.LoadStateDict(saved);
        for (var t = 4; t < 8; t++)
        {
            Feed(first, original, grads[t], options.Lr);
            Feed(second, restored, grads[t], options.Lr);
        }
        for (var i = 0; i < original.Count; i++)
            Assert.True(original[i].Value.equal(restored[i].Value).all().item<bool>(), $"'{original[i].Name}' differs after the round trip");
        foreach (var (key, t) in first.StateDict())
            Assert.True(t.equal(second.StateDict()[key]).all().item<bool>(), $"state '{key}' differs");
    }

    [Fact]
    public void Bad_moment_options_are_reported_by_key()
    {
        var problems = new QGaLoreOptions { Moments = (QGaLoreMoments)7, BlockSize = 100, Min8BitSize = -1 }.Validate().Select(p => p.Key).ToList();
        Assert.Equal(["moments", "block_size", "min_8bit_size"], problems);
    }
}
