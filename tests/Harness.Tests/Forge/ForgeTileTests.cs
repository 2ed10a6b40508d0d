using Harness.Core.Checks;
using Harness.Core.Config;
using Harness.Core.Running;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using Harness.Optimizers.AdamW;
using Harness.Optimizers.Kernels;
using Harness.Optimizers.Lion;
using Harness.Tests.Core;
using Harness.Tests.Kernels;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Harness.Tests.Forge;

/// <summary>
/// FORGE's tile-fused AdamW kernel (host-emulated build) against the slab path with the same kernels attached: one
/// weight of awkward shape and the tiny LLaMA through the driver (the comparisons <c>harness gpu-check</c> runs on
/// CUDA, with the same bounds), the tile edge, the step count, and when the driver takes or refuses the tile kernel.
/// </summary>
[Collection(EmulatedKernels.Collection)]
public sealed class ForgeTileTests(EmulatedKernels emulated, ITestOutputHelper output)
{
    private readonly FusedKernels _kernels = emulated.Kernels;

    private sealed class HostClock : IDeviceClock
    {
        public double Now() => 0;
    }

    public static TheoryData<int> LayerCases => new(Enumerable.Range(0, ForgeTileEquivalence.LayerCases.Count));
    public static TheoryData<int> ModelCases => new(Enumerable.Range(0, ForgeTileEquivalence.ModelCases.Count));

    [Theory]
    [MemberData(nameof(LayerCases))]
    public void One_weight_stepped_by_the_tile_kernel_matches_its_slab_steps(int index)
    {
        var c = ForgeTileEquivalence.LayerCases[index];
        var (ok, detail) = ForgeTileEquivalence.CompareLayer(CPU, _kernels, c.DType, c.Rows, c.Cols, c.Tokens, c.MicroBatches, c.Clip, c.WeightDecay);
        output.WriteLine($"{ForgeTileEquivalence.Describe(c)}: {detail}");
        Assert.True(ok, detail);
    }

    [Theory]
    [MemberData(nameof(ModelCases))]
    public void The_tiny_llama_trained_with_the_tile_kernel_matches_slabs(int index)
    {
        var c = ForgeTileEquivalence.ModelCases[index];
        var (ok, detail) = ForgeTileEquivalence.CompareModel(CPU, _kernels, null, c.DType, c.MicroBatches, c.Clip, c.WeightDecay);
        output.WriteLine($"{ForgeTileEquivalence.Describe(c)}: {detail}");
        Assert.True(ok, detail);
    }

    /// <summary>
    /// Each output element sums its tokens in the same order whatever the tile edge, so 32- and 64-wide tiles (edges and
    /// partial tiles at different places, the vector and the scalar epilogue) give the same bits; with a pending buffer and
    /// a clip coefficient, in fp32 and bf16.
    /// </summary>
    [Theory]
    [InlineData(ScalarType.Float32, 70, 45, 40)]
    [InlineData(ScalarType.Float32, 64, 96, 33)]
    [InlineData(ScalarType.BFloat16, 70, 45, 40)]
    [InlineData(ScalarType.BFloat16, 64, 96, 33)]
    public void Tile_edges_32_and_64_give_the_same_bits(ScalarType dtype, long rows, long cols, long tokens)
    {
        var (ok, detail) = ForgeTileEquivalence.CompareTileEdges(CPU, _kernels, dtype, rows, cols, tokens);
        output.WriteLine(detail);
        Assert.True(ok, detail);
    }

    [Fact]
    public void The_kernel_refuses_a_bad_tile_edge_with_the_reason()
    {
        using var scope = NewDisposeScope();
        var (p, m, v) = (zeros(4, 4), zeros(4, 4), zeros(4, 4));
        var e = Assert.Throws<InvalidOperationException>(() =>
            _kernels.ForgeAdamW(zeros(2, 4), zeros(2, 4), null, null, p, m, v, new AdamWScalars(1, 0.1f, 0.999f, 0.001f, 1, 1e-8f, -1e-3f, false), 48));
        Assert.Contains("tile must be 0 (choose), 32 or 64", e.Message);
        Assert.Throws<ArgumentException>(() =>
            _kernels.ForgeAdamW(zeros(2, 5), zeros(2, 4), null, null, p, m, v, new AdamWScalars(1, 0.1f, 0.999f, 0.001f, 1, 1e-8f, -1e-3f, false)));
    }

    [Fact]
    public void A_declined_tile_step_changes_nothing_and_an_accepted_one_counts_one_step()
    {
        using var scope = NewDisposeScope();
        var weight = new NamedParameter("w", new TorchSharp.Modules.Parameter(randn(8, 6)), ParamRole.Matrix);
        var before = weight.Value.detach().clone();
        using var adamw = new AdamW([weight], new AdamWOptions { Implementation = ImplementationChoice.CudaFused });
        using var unattached = new AdamW([weight], new AdamWOptions());
        Assert.Contains("no fused kernels", unattached.TileUnavailableReason(weight));
        Assert.False(unattached.TryStepLinear(weight, randn(3, 6), randn(3, 8), null, null, 1e-2));
        adamw.AttachKernels(_kernels, "emulated");
        Assert.Null(adamw.TileUnavailableReason(weight));
        var (x, dy) = (randn(3, 6), randn(3, 8));
        Assert.False(adamw.TryStepLinear(weight, randn(6, 3).t(), dy, null, null, 1e-2));                      // x not contiguous
        Assert.False(adamw.TryStepLinear(weight, x.to(ScalarType.Float64), dy, null, null, 1e-2));              // x of another dtype
        Assert.False(adamw.TryStepLinear(weight, x, randn(3, 7), null, null, 1e-2));                            // dY of another width
        Assert.False(adamw.TryStepLinear(weight, x, dy, zeros(8, 6, ScalarType.BFloat16), null, 1e-2));         // pending not fp32
        Assert.False(adamw.TryStepLinear(weight, x, dy, null, ones(2), 1e-2));                                  // clip not a scalar
        Assert.True(weight.Value.eq(before).all().item<bool>(), "a declined step moved the weight");
        Assert.False(adamw.StateDict().ContainsKey("w/step"), "a declined step created state");
        Assert.True(adamw.TryStepLinear(weight, x, dy, null, tensor(0.5f), 1e-2));
        Assert.True(adamw.TryStepLinear(weight, x, dy, null, null, 1e-2));
        Assert.Equal(2L, adamw.StateDict()["w/step"].item<long>());
        Assert.False(weight.Value.eq(before).all().item<bool>());
    }

    private LanguageModelWorkload Tiny() => new(TestConfigs.TinyLlama(16), new WorkloadContext(3, CPU, ScalarType.Float32, 4));

    private string KernelAfterOneStep(IOptimizer optimizer, LanguageModelWorkload workload, ForgeKernelMode mode)
    {
        using var driver = new ForgeStepDriver(new HostClock(), 32, 0) { Kernel = mode };
        using var scope = NewDisposeScope();
        driver.TrainStep(workload, optimizer, [workload.NextBatch(Split.Train)], 1e-3, new StepTimings());
        Assert.All(driver.Layers.Values, l => Assert.Equal(1, l.Updates));
        return driver.KernelUsed;
    }

    [Fact]
    public void Auto_takes_the_tile_kernel_where_the_optimizer_has_it_attached_and_slabs_elsewhere()
    {
        using var workload = Tiny();
        using var attached = new AdamW(workload.Parameters, new AdamWOptions { Implementation = ImplementationChoice.CudaFused });
        attached.AttachKernels(_kernels, "emulated");
        Assert.Equal(ForgeLinearLayer.TileKernel, KernelAfterOneStep(attached, workload, ForgeKernelMode.Auto));
        Assert.Equal(ForgeLinearLayer.SlabsKernel, KernelAfterOneStep(attached, workload, ForgeKernelMode.Slabs));
        using var plain = new AdamW(workload.Parameters, new AdamWOptions());
        Assert.Equal(ForgeLinearLayer.SlabsKernel, KernelAfterOneStep(plain, workload, ForgeKernelMode.Auto));
        using var lion = new Lion(workload.Parameters, new LionOptions());
        Assert.Equal(ForgeLinearLayer.SlabsKernel, KernelAfterOneStep(lion, workload, ForgeKernelMode.Auto));
    }

    [Fact]
    public void Forge_kernel_tile_is_refused_with_the_reason_where_the_tile_kernel_is_unavailable()
    {
        using var workload = Tiny();
        using var plain = new AdamW(workload.Parameters, new AdamWOptions());
        var e = Assert.Throws<NotSupportedException>(() => KernelAfterOneStep(plain, workload, ForgeKernelMode.Tile));
        Assert.Contains("forge_kernel tile", e.Message);
        Assert.Contains("no fused kernels", e.Message);
        using var lion = new Lion(workload.Parameters, new LionOptions());
        e = Assert.Throws<NotSupportedException>(() => KernelAfterOneStep(lion, workload, ForgeKernelMode.Tile));
        Assert.Contains("Lion has no tile-fused kernel", e.Message);
    }
}
