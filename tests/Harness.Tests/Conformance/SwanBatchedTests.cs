using Harness.Optimizers;
using Harness.Optimizers.Swan;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Harness.Tests.Conformance;

/// <summary>SWAN's batched step (same-shaped matrices whitened as one stack) against the per-matrix reference.</summary>
public sealed class SwanBatchedTests
{
    private static readonly (long[] Shape, ParamRole Role)[] Shapes =
    [
        ([12, 20], ParamRole.Matrix), ([12, 20], ParamRole.Matrix), ([20, 12], ParamRole.Matrix), ([20, 12], ParamRole.Matrix),
        ([12, 20], ParamRole.Matrix), ([30, 12], ParamRole.Embedding), ([12], ParamRole.Vector),
    ];

    private static List<NamedParameter> Parameters(ulong seed)
    {
        var gen = new Generator(seed);
        return Shapes.Select((s, i) => new NamedParameter($"p{i}", new Parameter(randn(s.Shape, generator: gen) * 0.1, requires_grad: true), s.Role)).ToList();
    }

    [Fact]
    public void Batched_steps_match_the_per_matrix_steps_over_twelve_scheduled_steps()
    {
        using var scope = NewDisposeScope();
        var reference = Parameters(3);
        var batched = Parameters(3);
        using var a = new Swan(reference, new SwanOptions { Implementation = "tensor-ops" });
        using var b = new Swan(batched, new SwanOptions());
        Assert.Equal(("tensor-ops", "batched"), (a.Implementation, b.Implementation));
        var gen = new Generator(4);
        for (var t = 0; t < 12; t++)
        {
            var lr = 1e-2 * (1 + Math.Cos(Math.PI * t / 12)) / 2; // cosine schedule
            var grads = Shapes.Select(s => randn(s.Shape, generator: gen)).ToList();
            grads[1] = zeros_like(grads[1]); // a zero gradient inside a batch stays a zero update
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
            Assert.False(x.isnan().any().item<bool>());
            // Within 16 float32 ulps of the parameter's magnitude after 12 updates of unit RMS × lr.
            var tolerance = 16 * Math.Pow(2, -23) * x.abs().max().item<float>();
            var diff = (x - y).abs().max().item<float>();
            Assert.True(diff <= tolerance, $"p{i}: {diff:e3} > {tolerance:e3}");
        }
        using var initial = Parameters(3)[1].Value;
        Assert.Equal(0f, (batched[1].Value - initial).abs().max().item<float>());
    }

    [Fact]
    public void A_stack_is_whitened_as_its_matrices_are_one_by_one()
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(5);
        var stack = randn([3, 10, 16], generator: gen);
        stack[1] = zeros(10, 16);
        var whole = Swan.Whiten(stack, 10, 0.5);
        for (var i = 0; i < 3; i++)
            Assert.True((whole[i] - Swan.Whiten(stack[i], 10, 0.5)).abs().max().item<float>() < 1e-5);
        Assert.Equal(0f, whole[1].abs().max().item<float>());
    }

    [Fact]
    public void Skipping_the_identity_products_gives_the_plain_iteration_bit_for_bit()
    {
        using var scope = NewDisposeScope();
        var g = randn([12, 20], generator: new Generator(6));
        var x = g / g.norm();
        var identity = eye(12);
        var (y, z) = (x.mm(x.t()), identity.clone());
        for (var i = 0; i < 10; i++)
        {
            var t = identity * 3 - z.mm(y);
            y = y.mm(t).mul_(0.5);
            z = t.mm(z).mul_(0.5);
        }
        Assert.Equal(0f, (Swan.Whiten(g, 10, 0.5) - z.mm(x)).abs().max().item<float>());
    }

    [Fact]
    public void An_unknown_implementation_is_named()
    {
        var problem = Assert.Single(new SwanOptions { Implementation = "fast" }.Validate());
        Assert.Equal("implementation", problem.Key);
    }
}
