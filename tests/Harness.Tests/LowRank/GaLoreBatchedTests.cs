using Harness.Optimizers;
using Harness.Optimizers.GaLore;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Harness.Tests.LowRank;

/// <summary>GaLore's batched step (stacked projections and moments, addmm updates) against the per-parameter reference.</summary>
public sealed class GaLoreBatchedTests
{
    private static readonly (long[] Shape, ParamRole Role)[] Shapes =
    [
        ([16, 24], ParamRole.Matrix), ([16, 24], ParamRole.Matrix), ([24, 16], ParamRole.Matrix), ([24, 16], ParamRole.Matrix),
        ([16, 24], ParamRole.Matrix), ([10, 7], ParamRole.Matrix), ([30, 16], ParamRole.Embedding), ([16], ParamRole.Vector),
    ];

    private static List<NamedParameter> Parameters(ulong seed)
    {
        var gen = new Generator(seed);
        return Shapes.Select((s, i) => new NamedParameter($"p{i}", new Parameter(randn(s.Shape, generator: gen) * 0.1, requires_grad: true), s.Role)).ToList();
    }

    [Theory]
    [InlineData("std")]
    [InlineData("left")]
    [InlineData("full")]
    public void Batched_steps_match_the_reference_over_twelve_scheduled_steps_with_a_refresh(string projType)
    {
        using var scope = NewDisposeScope();
        var reference = Parameters(7);
        var batched = Parameters(7);
        var options = new GaLoreOptions { Rank = 4, UpdateProjGap = 6, Scale = 0.25, WeightDecay = 0.1, ProjType = projType };
        using var a = new GaLore(reference, options with { Implementation = "tensor-ops" });
        using var b = new GaLore(batched, options);
        Assert.Equal(("tensor-ops", "batched"), (a.Implementation, b.Implementation));
        var gen = new Generator(8);
        for (var t = 0; t < 12; t++) // refreshes at steps 0 and 6
        {
            var lr = 1e-2 * (1 + Math.Cos(Math.PI * t / 12)) / 2;
            var grads = Shapes.Select(s => randn(s.Shape, generator: gen)).ToList();
            for (var i = 0; i < Shapes.Length; i++)
            {
                reference[i].Value.grad = grads[i].clone();
                batched[i].Value.grad = grads[i].clone();
            }
            a.Step(lr);
            b.Step(lr);
        }
        for (var i = 0; i < Shapes.Length; i++)
        {
            var (x, y) = (reference[i].Value, batched[i].Value);
            var tolerance = 8 * Math.Pow(2, -23) * x.abs().max().item<float>(); // 8 float32 ulps of the largest entry
            var diff = (x - y).abs().max().item<float>();
            Assert.True(diff <= tolerance, $"{projType} p{i}: {diff:e3} > {tolerance:e3}");
            Assert.True((x - Parameters(7)[i].Value).abs().max().item<float>() > 1e-4, $"p{i} did not move");
        }
        Assert.Equal(a.StateBytes, b.StateBytes);
        var sa = a.StateDict();
        var sb = b.StateDict();
        Assert.Equal(sa.Keys.Order(), sb.Keys.Order());
        foreach (var key in sa.Keys.Where(k => k.EndsWith("exp_avg", StringComparison.Ordinal)))
            Assert.True((sa[key] - sb[key]).abs().max().item<float>() < 1e-5, key);
    }

    [Fact]
    public void A_batched_state_dict_round_trip_continues_bit_identically()
    {
        using var scope = NewDisposeScope();
        var options = new GaLoreOptions { Rank = 4, UpdateProjGap = 3 };
        var d = OptimizerCatalog.Find("galore")!;
        var batchedDiff = LowRankTestSupport.RoundTripDifference(d, options, saveAt: 4, total: 8);
        Assert.Equal(0f, batchedDiff);
    }
}
