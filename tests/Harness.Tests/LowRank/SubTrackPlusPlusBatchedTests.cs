using Harness.Optimizers;
using Harness.Optimizers.SubTrackPlusPlus;
using Xunit.Abstractions;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Harness.Tests.LowRank;

/// <summary>
/// SubTrack++'s batched step (stacked bases, moments and limiter norms; batched SVD, tracking, transport and recovery)
/// against the per-parameter reference path.
/// </summary>
public sealed class SubTrackPlusPlusBatchedTests(ITestOutputHelper output)
{
    // Wide, tall and square groups of several members, a lone shape, an embedding and a vector.
    private static readonly (long[] Shape, ParamRole Role)[] Shapes =
    [
        ([16, 24], ParamRole.Matrix), ([24, 16], ParamRole.Matrix), ([16, 24], ParamRole.Matrix), ([20, 20], ParamRole.Matrix),
        ([24, 16], ParamRole.Matrix), ([16, 24], ParamRole.Matrix), ([20, 20], ParamRole.Matrix), ([10, 7], ParamRole.Matrix),
        ([30, 16], ParamRole.Embedding), ([16], ParamRole.Vector),
    ];

    private const int Steps = 12;

    private static SubTrackPlusPlusOptions Options(string semantics) =>
        new() { Rank = 4, UpdateInterval = 3, StepSize = 0.5, Scale = 0.25, WeightDecay = 0.1, Semantics = semantics };

    private static List<NamedParameter> Parameters(ulong seed)
    {
        var gen = new Generator(seed);
        return Shapes.Select((s, i) => new NamedParameter($"p{i}", new Parameter(randn(s.Shape, generator: gen) * 0.1, requires_grad: true), s.Role)).ToList();
    }

    // Gradients of step t (the same for every run), scaled so that the tracking angle σ₁·η stays near a radian.
    private static List<Tensor> Gradients(int t)
    {
        var gen = new Generator(100 + (ulong)t);
        return Shapes.Select(s => randn(s.Shape, generator: gen) * 0.3).ToList();
    }

    private static double Lr(int t) => 1e-2 * (1 + Math.Cos(Math.PI * t / Steps)) / 2;

    private static void Run(IOptimizer optimizer, List<NamedParameter> ps, int from, int to)
    {
        for (var t = from; t < to; t++) LowRankTestSupport.Feed(optimizer, ps, Gradients(t), Lr(t));
    }

    [Theory]
    [InlineData("paper")]
    [InlineData("code")]
    public void Batched_steps_match_the_reference_over_a_scheduled_run_with_tracking_and_transports(string semantics)
    {
        using var scope = NewDisposeScope();
        var (reference, batched, initial) = (Parameters(7), Parameters(7), Parameters(7));
        using var a = new SubTrackPlusPlus(reference, Options(semantics) with { Implementation = "tensor-ops" });
        using var b = new SubTrackPlusPlus(batched, Options(semantics));
        Assert.Equal(("tensor-ops", "batched"), (a.Implementation, b.Implementation));
        Run(a, reference, 0, Steps); // SVD at 0, moves at 3, 6, 9; transports (code) at t = 3, 6, 9, 12
        Run(b, batched, 0, Steps);

        var worstUlps = 0.0;
        for (var i = 0; i < Shapes.Length; i++)
        {
            var (x, y) = (reference[i].Value, batched[i].Value);
            var ulp = Math.Pow(2, -23) * x.abs().max().item<float>();
            var diff = (x - y).abs().max().item<float>();
            worstUlps = Math.Max(worstUlps, diff / ulp);
            Assert.True(diff <= 8 * ulp, $"{semantics} p{i}: {diff:e3} > 8 ulps ({8 * ulp:e3})");
            Assert.True((x - initial[i].Value).abs().max().item<float>() > 1e-3, $"p{i} did not move");
        }
        output.WriteLine($"{semantics}: largest parameter difference {worstUlps:F2} ulps of the largest entry");
        Assert.Equal(a.StateBytes, b.StateBytes);
        Assert.Equal(Descriptor.ExpectedStateBytes(batched, Options(semantics)), b.StateBytes);
        var (sa, sb) = (a.StateDict(), b.StateDict());
        Assert.Equal(sa.Keys.Order(), sb.Keys.Order());
        foreach (var key in sa.Keys.Where(k => !k.EndsWith("/step", StringComparison.Ordinal)))
        {
            var scale = Math.Max(1, sa[key].abs().max().item<float>());
            Assert.True((sa[key] - sb[key]).abs().max().item<float>() <= 1e-5 * scale, key);
        }
        if (semantics == "paper")
        {
            // The wide and square groups' bases moved (tracking ran), so the comparison above covers it.
            var basis = sb["p0/basis"];
            Assert.True((basis.matmul(basis.t()) - StepZeroBasis("p0", semantics)).abs().max().item<float>() > 1e-2, "the basis never moved");
        }
    }

    private static Tensor StepZeroBasis(string name, string semantics)
    {
        var ps = Parameters(7);
        using var optimizer = new SubTrackPlusPlus(ps, Options(semantics));
        Run(optimizer, ps, 0, 1);
        var s = optimizer.StateDict()[$"{name}/basis"];
        return s.matmul(s.t());
    }

    [Theory]
    [InlineData("paper")]
    [InlineData("code")]
    public void A_group_stepped_in_chunks_equals_the_whole_group(string semantics)
    {
        using var scope = NewDisposeScope();
        var (whole, chunked) = (Parameters(9), Parameters(9));
        using var a = new SubTrackPlusPlus(whole, Options(semantics));
        using var b = new SubTrackPlusPlus(chunked, Options(semantics), stackBytes: 20 * 24 * 4); // one 16×24 or 20×20 matrix per chunk
        Run(a, whole, 0, 7);
        Run(b, chunked, 0, 7);
        for (var i = 0; i < Shapes.Length; i++)
            Assert.True(whole[i].Value.equal(chunked[i].Value).all().item<bool>(), $"{semantics} p{i} differs chunked");
    }

    [Theory]
    [InlineData("paper")]
    [InlineData("code")]
    public void A_batched_state_dict_round_trip_continues_bit_identically(string semantics)
    {
        // Saved after 4 steps (between the moves at 3 and 6): the restored groups must track, transport and limit from
        // the loaded views exactly as the uninterrupted run does.
        using var scope = NewDisposeScope();
        var original = Parameters(13);
        using var first = new SubTrackPlusPlus(original, Options(semantics));
        Run(first, original, 0, 4);
        var saved = first.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        var restored = original.Select(p => new NamedParameter(p.Name, new Parameter(p.Value.detach().clone(), requires_grad: true), p.Role)).ToList();
        using var second = new SubTrackPlusPlus(restored, Options(semantics));
        second.LoadStateDict(saved);
        Run(first, original, 4, 10);
        Run(second, restored, 4, 10);
        for (var i = 0; i < Shapes.Length; i++)
            Assert.True(original[i].Value.equal(restored[i].Value).all().item<bool>(), $"{semantics} p{i} differs after the round trip");
    }

    [Fact]
    public void The_implementation_option_accepts_the_batched_values_and_the_trace_keeps_the_reference_path()
    {
        foreach (var value in new[] { "auto", "tensor-ops", "batched", "cuda-fused" })
            Assert.Empty(new SubTrackPlusPlusOptions { Implementation = value }.Validate());
        var problem = Assert.Single(new SubTrackPlusPlusOptions { Implementation = "fused" }.Validate());
        Assert.Equal("implementation", problem.Key);
        var trace = (SubTrackPlusPlusOptions)((Harness.Optimizers.IReferenceTraceOptions)new SubTrackPlusPlusOptions()).ReferenceTraceDefaults;
        Assert.Equal(("code", "tensor-ops"), (trace.Semantics, trace.Implementation));
        Assert.Equal(["tensor-ops", "batched"], Descriptor.AcceptedImplementations(["tensor-ops", "batched"]));
    }

    private static readonly OptimizerDescriptor Descriptor = OptimizerCatalog.Find("subtrackpp")!;
}
