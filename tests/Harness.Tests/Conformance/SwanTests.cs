using Harness.Optimizers;
using Harness.Optimizers.Swan;
using Xunit.Abstractions;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Harness.Tests.Conformance;

public sealed class SwanTests(ITestOutputHelper output)
{
    /// <summary>A 24×64 matrix with singular values spread over [1, cond]: U·diag(s)·Vᵀ from seeded QRs.</summary>
    private static Tensor WellConditioned(long m, long n, double cond, ulong seed, ScalarType dtype = ScalarType.Float64)
    {
        var gen = new TorchSharp.torch.Generator(seed);
        var (u, _) = linalg.qr(randn([m, m], dtype: dtype, generator: gen));
        var (v, _) = linalg.qr(randn([n, m], dtype: dtype, generator: gen));
        var s = linspace(1, cond, m, dtype: dtype);
        return u.mm(diag(s)).mm(v.t());
    }

    /// <summary>(GGᵀ)^{-1/2}G from an exact symmetric eigendecomposition.</summary>
    private static Tensor ExactWhitening(Tensor g)
    {
        var (values, vectors) = linalg.eigh(g.mm(g.t()));
        return vectors.mm(diag(values.rsqrt())).mm(vectors.t()).mm(g);
    }

    [Fact]
    public void Whitening_approaches_the_exact_inverse_square_root_as_iterations_grow()
    {
        using var scope = NewDisposeScope();
        var g = WellConditioned(24, 64, cond: 3, seed: 11);
        var exact = ExactWhitening(g);
        var errors = new List<double>();
        foreach (var k in new[] { 2, 4, 6, 8, 10, 14 })
        {
            var approx = Swan.Whiten(g.to_type(ScalarType.Float32), k, 0.5).to_type(ScalarType.Float64);
            errors.Add((approx - exact).norm().item<double>() / exact.norm().item<double>());
        }
        output.WriteLine("relative error by k = 2,4,6,8,10,14: " + string.Join(", ", errors.Select(e => e.ToString("e2"))));
        for (var i = 1; i < errors.Count; i++)
            Assert.True(errors[i] < errors[i - 1] || errors[i] < 1e-5, $"error did not decrease at index {i}: {string.Join(", ", errors)}");
        Assert.True(errors[0] > 1e-2, $"k=2 should be far from converged, got {errors[0]:e2}");
        Assert.True(errors[^1] < 1e-5, $"k=14 fp32 error {errors[^1]:e2}");
    }

    [Fact]
    public void Whitening_a_tall_matrix_gives_orthonormal_columns_and_matches_the_transposed_case()
    {
        using var scope = NewDisposeScope();
        var g = WellConditioned(16, 40, cond: 2, seed: 12, ScalarType.Float32);
        var wide = Swan.Whiten(g, 14, 0.5);
        var tall = Swan.Whiten(g.t(), 14, 0.5);
        Assert.True((tall - wide.t()).abs().max().item<float>() < 1e-5);
        var gram = tall.t().mm(tall);
        Assert.True((gram - eye(16)).abs().max().item<float>() < 1e-4);
    }

    [Theory]
    [InlineData(SwanNormAxis.Input, 1)]
    [InlineData(SwanNormAxis.Output, 0)]
    public void GradNorm_gives_zero_mean_unit_std_vectors_and_ignores_row_shift_and_scale(SwanNormAxis axis, long dim)
    {
        using var scope = NewDisposeScope();
        var gen = new TorchSharp.torch.Generator(13);
        var g = randn([12, 20], generator: gen) * 5 + 3;
        var n = Swan.GradNorm(g, axis, 1e-8);
        Assert.True(n.mean([dim]).abs().max().item<float>() < 1e-6);
        Assert.True((n.square().mean([dim]).sqrt() - 1).abs().max().item<float>() < 1e-5);
        // Invariant to adding a constant and a positive scale along the normalised vectors.
        var shape = dim == 1 ? new long[] { 12, 1 } : [1, 20];
        var shifted = g * (rand(shape, generator: gen) + 0.5) + randn(shape, generator: gen);
        Assert.True((Swan.GradNorm(shifted, axis, 1e-8) - n).abs().max().item<float>() < 1e-4);
    }

    [Fact]
    public void Matrices_keep_no_state_and_only_the_adam_part_is_counted()
    {
        using var scope = NewDisposeScope();
        var gen = new TorchSharp.torch.Generator(14);
        List<NamedParameter> ps =
        [
            new("embed", new Parameter(randn([50, 8], generator: gen)), ParamRole.Embedding),
            new("q", new Parameter(randn([8, 8], generator: gen)), ParamRole.Matrix),
            new("up", new Parameter(randn([16, 8], generator: gen)), ParamRole.Matrix),
            new("norm", new Parameter(ones(8)), ParamRole.Vector),
            new("head", new Parameter(randn([50, 8], generator: gen)), ParamRole.OutputHead),
        ];
        var options = new SwanOptions();
        using var swan = new Swan(ps, options);
        var before = ps[1].Value.detach().clone();
        for (var step = 0; step < 3; step++)
        {
            foreach (var p in ps) p.Value.grad = randn(p.Value.shape, generator: gen);
            swan.Step(1e-2);
        }
        Assert.Equal((50 * 8 + 8 + 50 * 8) * 2 * 4L, swan.StateBytes);
        Assert.Equal(OptimizerCatalog.Find("swan")!.ExpectedStateBytes(ps, options), swan.StateBytes);
        Assert.DoesNotContain(swan.StateDict().Keys, k => k.StartsWith("q/", StringComparison.Ordinal) || k.StartsWith("up/", StringComparison.Ordinal));
        // Three unit-RMS steps of lr 1e-2: q moves by between 1e-2 (aligned worst case aside) and 3e-2 RMS.
        var moved = (ps[1].Value - before).square().mean().sqrt().item<float>();
        Assert.InRange(moved, 1e-2, 3e-2);

        using var onHead = new Swan(ps, options with { SwanOnHead = true });
        foreach (var p in ps) p.Value.grad = randn(p.Value.shape, generator: gen);
        onHead.Step(1e-2);
        Assert.Equal((50 * 8 + 8) * 2 * 4L, onHead.StateBytes);
    }

    [Fact]
    public void One_step_is_the_scaled_whitened_normalised_gradient()
    {
        using var scope = NewDisposeScope();
        var gen = new TorchSharp.torch.Generator(15);
        var w = new Parameter(randn([10, 30], generator: gen));
        var start = w.detach().clone();
        var grad = randn([10, 30], generator: gen);
        using var swan = new Swan([new("w", w, ParamRole.Matrix)], new SwanOptions { MatrixLrScale = 0.5 });
        w.grad = grad;
        swan.Step(0.1);
        var direction = ExactWhitening(Swan.GradNorm(grad.to_type(ScalarType.Float64), SwanNormAxis.Input, 1e-8));
        direction = direction * (Math.Sqrt(300) / direction.norm().item<double>());
        var expected = start.to_type(ScalarType.Float64) - direction * 0.05;
        Assert.True((w.to_type(ScalarType.Float64) - expected).abs().max().item<double>() < 1e-4);
    }
}
