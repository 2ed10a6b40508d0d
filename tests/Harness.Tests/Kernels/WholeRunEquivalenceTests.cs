using System.Diagnostics;
using Harness.Core.Checks;
using Harness.Optimizers;
using Harness.Optimizers.Adam8bit;
using Harness.Optimizers.AdamW;
using Harness.Optimizers.Kernels;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Harness.Tests.Kernels;

/// <summary>
/// The whole-run checks of <see cref="WholeRunEquivalence"/> (the ones gpu-check runs on CUDA) on the host-emulated
/// kernels: a LLaMA with a GPT-2 vocabulary slice over a 60-step cosine schedule, fused against tensor-ops for AdamW,
/// 8-bit Adam and Gefen, and FORGE's tile kernel against its slabs.
/// </summary>
[Collection(EmulatedKernels.Collection)]
public sealed class WholeRunEquivalenceTests(EmulatedKernels emulated, ITestOutputHelper output)
{
    /// <summary>
    /// 7 layers of hidden 16: 66 tensors; with min_8bit_size 256 every matrix is 8-bit (51 tensors: more than one launch of
    /// 48 for each kernel; the 15 norms take the fp32 path), each matrix a single partial block (256 or 1024 of 2048) and
    /// the 2000-row embedding and head 15 blocks and a partial one (32000 = 15 x 2048 + 1280); 2000 rows against 32 tokens
    /// a step leave most embedding rows without a gradient. Sized for the test budget: the tensor-ops 8-bit step and
    /// Gefen's first-step codebook dominate the run.
    /// </summary>
    internal static WholeRunSetup Setup { get; } = new()
    {
        Vocab = 2000, Hidden = 16, Layers = 7, Heads = 2, Ffn = 64, SeqLen = 16, BatchSize = 2, Steps = 60, WarmupSteps = 10, TextChars = 60_000,
        Min8BitSize = 256, SlabRows = 16,
    };

    [Fact]
    public void The_setup_exceeds_a_launch_group_and_has_partial_blocks_and_fp32_path_tensors()
    {
        Assert.True(Setup.TensorCount > 48, $"{Setup.TensorCount} tensors");
        Assert.True(7 * Setup.Layers + 2 > 48, "8-bit tensors");
        Assert.True(Setup.Hidden < Setup.Min8BitSize && Setup.Hidden * Setup.Hidden >= Setup.Min8BitSize);
        Assert.NotEqual(0, Setup.Hidden * Setup.Hidden % 2048);
        Assert.NotEqual(0, Setup.Vocab * Setup.Hidden % 2048);
        Assert.True(Setup.Steps >= 60 && Setup.WarmupSteps > 0);
    }

    /// <summary>AdamW (weight decay 0.1), 8-bit Adam and Gefen, fused against tensor-ops, in one run (one forward and backward a step).</summary>
    [Fact]
    public void Fused_equals_tensor_ops_over_a_whole_run()
    {
        var watch = Stopwatch.StartNew();
        var results = WholeRunEquivalence.Compare(FusedOptimizerCase.All, CPU, emulated.Kernels, "emulated", Setup);
        foreach (var r in results) output.WriteLine($"{r.Name}: {r.Detail}");
        output.WriteLine($"{watch.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(["adamw", "adam8bit", "gefen"], results.Select(r => r.Name.Split(' ')[0]));
        Assert.All(results, r => Assert.True(r.Ok, $"{r.Name}: {r.Detail}"));
    }

    [Fact]
    public void Forge_tile_equals_slabs_over_a_whole_run()
    {
        var watch = Stopwatch.StartNew();
        // Two layers: the tile kernel steps one weight at a time, so launch groups do not matter here.
        var result = WholeRunEquivalence.CompareForgeTile(CPU, emulated.Kernels, null, Setup with { Layers = 2 });
        output.WriteLine($"{result.Name}: {result.Detail} [{watch.Elapsed.TotalSeconds:F1} s]");
        Assert.True(result.Ok, result.Detail);
    }

    /// <summary>
    /// The checks can fail: the fused instances given slightly other options (AdamW eps 1e-7 for 1e-8, 8-bit Adam β1 0.9001)
    /// over 3 steps of a one-layer model fail, naming the parameters and the codes.
    /// </summary>
    [Fact]
    public void The_checks_fail_when_the_fused_side_computes_something_else()
    {
        FusedOptimizerCase[] perturbed =
        [
            new("adamw", (ps, impl, s) => new AdamW(ps, new AdamWOptions
                { Betas = [0.9, 0.95], Eps = impl == ImplementationChoice.CudaFused ? 1e-7 : 1e-8, WeightDecay = s.WeightDecay, Implementation = impl })),
            new("adam8bit", (ps, impl, s) => new Adam8bit(ps, new Adam8bitOptions
                { Betas = [impl == ImplementationChoice.CudaFused ? 0.9001 : 0.9, 0.95], WeightDecay = s.WeightDecay, Min8BitSize = s.Min8BitSize, Implementation = impl })),
        ];
        var results = WholeRunEquivalence.Compare(perturbed, CPU, emulated.Kernels, "emulated", Setup with { Layers = 1, Steps = 3, WarmupSteps = 1 });
        foreach (var r in results) output.WriteLine($"{r.Name}: {r.Detail}");
        Assert.All(results, r => Assert.False(r.Ok));
        Assert.Contains("ulps apart", results[0].Detail);
        Assert.Contains("codes differ", results[1].Detail.Split("FAILED")[1]);
    }
}
