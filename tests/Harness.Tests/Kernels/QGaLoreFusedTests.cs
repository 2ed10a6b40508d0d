using Harness.Optimizers.QGaLore;
using Harness.Tests.QGaLore;
using static TorchSharp.torch;

namespace Harness.Tests.Kernels;

/// <summary>
/// Q-GaLore's moments through the (host-emulated) fused 8-bit Adam kernel and its weight write-back through
/// <c>hk_qgalore_requant</c> against its tensor-ops path, over a whole run.
/// </summary>
[Collection(EmulatedKernels.Collection)]
public sealed class QGaLoreFusedTests(EmulatedKernels emulated)
{
    /// <summary>
    /// min_8bit_size 256 puts the tiny model's low-rank moments (8 × 32, 8 × 64) and its embedding and head on the 8-bit
    /// path, the norms on the 32-bit one. The kernel's nearest-code search flips a few codes against the tensor ops
    /// (Adam8bit's own fused test bounds them at 0.2 %), and an 8-bit moment that flips moves its step by up to one code
    /// gap, so the runs may separate slowly: losses per step within 0.1 % over 12 steps with refreshes (measured: equal
    /// to 9 steps, then ≤ 1.4e-7 relative), stochastic rounding off (the noise streams differ by design; see
    /// QGaLoreFastStepTests).
    /// </summary>
    [Theory]
    [InlineData(QGaLoreWeightStorage.Int8)]
    [InlineData(QGaLoreWeightStorage.Simulated)]
    public void Fused_moments_track_tensor_ops_over_a_run_with_a_schedule(QGaLoreWeightStorage storage)
    {
        using var scope = NewDisposeScope();
        var options = new QGaLoreOptions { Lr = 1e-2, Rank = 8, UpdateProjGap = 3, Seed = 11, Min8BitSize = 256, StochasticRound = false, WeightStorage = storage };
        var (reference, _, referenceName) = QGaLoreRuns.Train(options with { Implementation = "tensor-ops" }, startOnGrid: true, steps: 12, emulated.Kernels);
        var (fused, _, fusedName) = QGaLoreRuns.Train(options with { Implementation = "cuda-fused" }, startOnGrid: true, steps: 12, emulated.Kernels);
        Assert.Equal(("tensor-ops (8-bit moments)", "batched; cuda-fused (emulated) (8-bit moments, fused write-back)"), (referenceName, fusedName));
        Assert.NotEqual(reference, fused); // the kernel ran (its rounding differs in the last bits)
        for (var i = 0; i < reference.Count; i++)
            Assert.True(Math.Abs(fused[i] - reference[i]) <= 1e-3 * reference[i], $"step {i}: {fused[i]} vs {reference[i]}");
        Assert.True(reference[^1] < reference[0] - 0.1, "the model learns");
    }

    /// <summary>
    /// With stochastic rounding the fused write-back must draw the batched path's counter stream: cuda-fused against batched
    /// (the same draws; tensor-ops draws from a CPU generator instead), 12 scheduled steps with refreshes, INT8 storage.
    /// Only the 8-bit kernel's few flipped codes separate them: measured 6.9e-5 relative at worst, bounded at 1e-3.
    /// </summary>
    [Fact]
    public void Fused_write_back_with_stochastic_rounding_tracks_the_batched_path()
    {
        using var scope = NewDisposeScope();
        var options = new QGaLoreOptions { Lr = 1e-2, Rank = 8, UpdateProjGap = 3, Seed = 11, Min8BitSize = 256, StochasticRound = true };
        var (batched, _, batchedName) = QGaLoreRuns.Train(options with { Implementation = "batched" }, startOnGrid: true, steps: 12, emulated.Kernels);
        var (fused, _, fusedName) = QGaLoreRuns.Train(options with { Implementation = "cuda-fused" }, startOnGrid: true, steps: 12, emulated.Kernels);
        Assert.Equal(("batched (8-bit moments)", "batched; cuda-fused (emulated) (8-bit moments, fused write-back)"), (batchedName, fusedName));
        var worst = batched.Zip(fused, (a, b) => Math.Abs(a - b) / a).Max();
        Assert.True(worst <= 1e-3, $"worst relative loss difference {worst:e2}");
        Assert.True(batched[^1] < batched[0] - 0.1, "the model learns");
    }
}
