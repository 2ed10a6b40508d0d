using Harness.Core.Checks;
using Harness.Tests.Kernels;
using Harness.Optimizers.Kernels;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Harness.Tests.Forge;

/// <summary>
/// FORGE's tensor-core tile kernel (<c>hk_forge_tc</c>, host-emulated build: cp.async a copy, ldmatrix and mma.sync emulated
/// per warp with the PTX fragment layouts) against the slab path with the same kernels attached, for each epilogue: AdamW
/// with the parameter's state (fp32 master weights under mixed; bit for bit), 8-bit Adam (codes within one code), and AdamW
/// with bf16 state by stochastic rounding (within one ulp, unbiased, reproducible). The comparisons and bounds are the ones
/// <c>harness gpu-check</c> runs on CUDA (<see cref="ForgeTensorCoreEquivalence"/>).
/// </summary>
[Collection(EmulatedKernels.Collection)]
public sealed class ForgeTensorCoreTests(EmulatedKernels emulated, ITestOutputHelper output)
{
    private readonly FusedKernels _kernels = emulated.Kernels;

    public static TheoryData<int> LayerCases => new(Enumerable.Range(0, ForgeTensorCoreEquivalence.LayerCases.Count));
    public static TheoryData<int> RoundingCases => new(Enumerable.Range(0, ForgeTensorCoreEquivalence.RoundingCases.Count));

    [Theory]
    [MemberData(nameof(LayerCases))]
    public void One_weight_stepped_on_tensor_cores_matches_its_slab_steps(int index)
    {
        var c = ForgeTensorCoreEquivalence.LayerCases[index];
        var (ok, detail) = ForgeTensorCoreEquivalence.CompareLayer(CPU, _kernels, c);
        output.WriteLine($"{c}: {detail}");
        Assert.True(ok, detail);
    }

    [Theory]
    [MemberData(nameof(RoundingCases))]
    public void Bf16_state_is_stochastically_rounded_within_one_ulp_and_unbiased(int index)
    {
        var c = ForgeTensorCoreEquivalence.RoundingCases[index];
        var (ok, detail) = ForgeTensorCoreEquivalence.CompareStochasticRounding(CPU, _kernels, c.Weight, c.Rows, c.Cols, c.Tokens, c.Splits);
        output.WriteLine($"{ForgeTensorCoreEquivalence.Describe(c)}: {detail}");
        Assert.True(ok, detail);
    }

    /// <summary>Split-K sums the splits' partial tiles in split order: with exact-integer operands every split count gives the same bits.</summary>
    [Fact]
    public void Split_counts_give_identical_results_on_exact_operands()
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(3, CPU);
        const long rows = 136, cols = 128, tokens = 130;
        var x = randint(-1, 2, [tokens, cols], generator: gen).to(ScalarType.BFloat16);
        var dy = (randint(-1, 2, [tokens, rows], generator: gen) * 0.25).to(ScalarType.BFloat16);
        var pending = randn([rows, cols], generator: gen) * 0.1;
        var p0 = randn([rows, cols], generator: gen);
        var s = new AdamWScalars(0.999f, 0.1f, 0.999f, 0.001f, 1.2f, 1e-8f, -1e-2f, true);
        var results = new[] { 1, 2, 5 }.Select(splits =>
        {
            var (p, m, v) = (p0.clone(), zeros(rows, cols), zeros(rows, cols));
            _kernels.ForgeTensorCore(ForgeTileKind.AdamW, x, dy, pending, null, p, m, v, null, null, s.Pack(), null, null, 0, splits);
            return new[] { p, m, v };
        }).ToList();
        for (var k = 1; k < results.Count; k++)
            for (var i = 0; i < 3; i++)
                Assert.Equal(0, results[0][i].ne(results[k][i]).sum().item<long>());
        Assert.True(results[0][0].ne(p0).sum().item<long>() > rows * cols / 2);
    }

    [Fact]
    public void The_kernel_refuses_shapes_it_cannot_copy_in_16_byte_pieces()
    {
        using var scope = NewDisposeScope();
        var (x, dy) = (zeros([8, 12], ScalarType.BFloat16), zeros([8, 16], ScalarType.BFloat16));
        var (p, m, v) = (zeros(16, 12), zeros(16, 12), zeros(16, 12));
        var s = new AdamWScalars(1f, 0.1f, 0.999f, 0.001f, 1f, 1e-8f, -1e-3f, false);
        var e = Assert.Throws<InvalidOperationException>(() => _kernels.ForgeTensorCore(ForgeTileKind.AdamW, x, dy, null, null, p, m, v, null, null, s.Pack(), null, null, 0));
        Assert.Contains("multiples of 8", e.Message);
    }
}
