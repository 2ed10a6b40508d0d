using Harness.Optimizers;
using Harness.Optimizers.GaLore;
using Harness.Optimizers.Kernels;
using Harness.Optimizers.SubTrackPlusPlus;
using Harness.Optimizers.Swan;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Harness.Tests.Kernels;

/// <summary>GaLore's, SubTrack++'s and SWAN's full-rank (Adam-part) parameters through the (host-emulated) fused AdamW kernel against its tensor-ops Adam.</summary>
[Collection(EmulatedKernels.Collection)]
public sealed class LowRankFusedFullRankTests(EmulatedKernels emulated)
{
    private static readonly (long[] Shape, ParamRole Role)[] Shapes =
    [
        ([16, 24], ParamRole.Matrix), ([16, 24], ParamRole.Matrix), ([40, 16], ParamRole.Embedding), ([40, 16], ParamRole.OutputHead), ([16], ParamRole.Vector),
    ];

    private static List<NamedParameter> Parameters()
    {
        var gen = new Generator(21);
        return Shapes.Select((s, i) => new NamedParameter($"p{i}", new Parameter(randn(s.Shape, generator: gen) * 0.1, requires_grad: true), s.Role)).ToList();
    }

    /// <summary>
    /// GaLore's cuda-fused step also sends its low-rank moments through the kernel (zero placeholders in one launch with the
    /// full-rank parameters), so its matrices are within rounding too (the kernel's m is a lerp): measured 3e-8 after 11 steps.
    /// </summary>
    [Fact]
    public void GaLore_fused_steps_match_batched_tensor_ops_for_full_rank_and_projected_parameters()
    {
        var options = new GaLoreOptions { Rank = 4, UpdateProjGap = 5, WeightDecay = 0.1 };
        Compare(ps => new GaLore(ps, options with { Implementation = "batched" }), ps => new GaLore(ps, options with { Implementation = "cuda-fused" }),
            ("batched", "batched; cuda-fused adamw"), matricesExact: false);
    }

    [Fact]
    public void SubTrackpp_fused_full_rank_steps_match_tensor_ops_and_leave_the_matrices_bit_identical()
    {
        var options = new SubTrackPlusPlusOptions { Rank = 4, UpdateInterval = 5, WeightDecay = 0.1 };
        Compare(ps => new SubTrackPlusPlus(ps, options with { Implementation = "batched" }), ps => new SubTrackPlusPlus(ps, options with { Implementation = "cuda-fused" }),
            ("batched", "batched; cuda-fused adamw"));
    }

    [Fact]
    public void Swan_fused_adam_part_matches_tensor_ops_and_leaves_the_matrices_bit_identical()
    {
        var options = new SwanOptions { WeightDecay = 0.1 };
        Compare(ps => new Swan(ps, options with { Implementation = "batched" }), ps => new Swan(ps, options with { Implementation = "cuda-fused" }),
            ("batched", "batched; cuda-fused (emulated) adamw"));
    }

    private void Compare(Func<List<NamedParameter>, IOptimizer> createPlain, Func<List<NamedParameter>, IOptimizer> createFused, (string, string) implementations,
        bool matricesExact = true)
    {
        using var scope = NewDisposeScope();
        var (plain, fused, initial) = (Parameters(), Parameters(), Parameters());
        using var a = createPlain(plain);
        using var b = createFused(fused);
        ((IFusedKernelUser)a).AttachKernels(emulated.Kernels, "emulated");
        ((IFusedKernelUser)b).AttachKernels(emulated.Kernels, "emulated");
        Assert.Equal(implementations, (a.Implementation, b.Implementation));
        var gen = new Generator(22);
        for (var t = 0; t < 11; t++) // refreshes (GaLore) or moves (SubTrack++) at steps 0/5/10
        {
            var lr = 1e-2 * (1 + Math.Cos(Math.PI * t / 11)) / 2;
            var grads = Shapes.Select(s => randn(s.Shape, generator: gen) * 0.01).ToList();
            for (var i = 0; i < Shapes.Length; i++)
            {
                plain[i].Value.grad = grads[i].clone();
                fused[i].Value.grad = grads[i].clone();
            }
            a.Step(lr);
            b.Step(lr);
        }
        for (var i = 0; i < Shapes.Length; i++)
        {
            var moved = (plain[i].Value - initial[i].Value).abs().max().item<float>();
            var diff = (plain[i].Value - fused[i].Value).abs().max().item<float>();
            if (Shapes[i].Role == ParamRole.Matrix && matricesExact) Assert.Equal(0f, diff);
            else Assert.True(diff <= 1e-5 * moved + 4e-7 * plain[i].Value.abs().max().item<float>(), $"p{i}: {diff:e3} vs movement {moved:e3}");
            Assert.True(moved > 1e-4, $"p{i} did not move");
        }
    }

    [Fact]
    public void Cuda_fused_without_kernels_fails_with_the_reason_and_tensor_ops_ignores_them()
    {
        using var scope = NewDisposeScope();
        using var required = new GaLore(Parameters(), new GaLoreOptions { Implementation = "cuda-fused" });
        var e = Assert.Throws<InvalidOperationException>(() => required.AttachKernels(null, "no nvcc on this host"));
        Assert.Contains("no nvcc on this host", e.Message);
        using var reference = new GaLore(Parameters(), new GaLoreOptions { Implementation = "tensor-ops" });
        ((IFusedKernelUser)reference).AttachKernels(emulated.Kernels, "emulated");
        Assert.Equal("tensor-ops", reference.Implementation);
    }
}
