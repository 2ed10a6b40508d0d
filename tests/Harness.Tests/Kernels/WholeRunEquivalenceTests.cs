using System.Diagnostics;
using Harness.Core.Checks;
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
    /// 8 layers of hidden 32: 75 tensors; with min_8bit_size 1024 every matrix is 8-bit (58 tensors: more than one launch
    /// of 48 for each kernel; the 17 norms take the fp32 path), 32x32 matrices a single partial block (1024 of 2048) and a
    /// 2000-row embedding and head 31 blocks and a partial one (64000 = 31 x 2048 + 512); 2000 rows against 32 tokens a
    /// step leave most embedding rows without a gradient.
    /// </summary>
    internal static WholeRunSetup Setup { get; } = new()
    {
        Vocab = 2000, Hidden = 32, Layers = 8, Heads = 2, Ffn = 64, SeqLen = 16, BatchSize = 2, Steps = 60, WarmupSteps = 10, TextChars = 60_000,
        Min8BitSize = 1024, SlabRows = 16,
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
        var result = WholeRunEquivalence.CompareForgeTile(CPU, emulated.Kernels, null, Setup);
        output.WriteLine($"{result.Name}: {result.Detail} [{watch.Elapsed.TotalSeconds:F1} s]");
        Assert.True(result.Ok, result.Detail);
    }
}
