using Harness.Optimizers;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Harness.Tests.Optimizers;

/// <summary>The optimizers in a plain TorchSharp training loop, with roles from <see cref="ModuleParameters"/>.</summary>
public sealed class ModuleParametersTests(ITestOutputHelper output)
{
    private const int Vocab = 16, Width = 32;

    /// <summary>A token-to-token model of stock TorchSharp modules, every weight drawn from <paramref name="seed"/>.</summary>
    private static nn.Module<Tensor, Tensor> Model(int seed)
    {
        var model = nn.Sequential(
            ("embed", nn.Embedding(Vocab, Width)), ("hidden", nn.Linear(Width, Width)), ("act", nn.ReLU()),
            ("norm", nn.LayerNorm(Width)), ("head", nn.Linear(Width, Vocab)));
        // Stock modules draw from the global generator, which parallel tests share: redraw from our own.
        using var g = new Generator((ulong)seed, CPU);
        using var noGrad = no_grad();
        foreach (var (name, p) in model.named_parameters())
            if (p.dim() == 2) p.normal_(0, 0.3, g);
            else if (!name.StartsWith("norm", StringComparison.Ordinal)) p.zero_();
        return model;
    }

    [Fact]
    public void Roles_come_from_module_type_and_shape_and_the_override_wins()
    {
        using var model = Model(0);
        var ps = ModuleParameters.From(model);
        Assert.Equal(["embed.weight", "hidden.weight", "hidden.bias", "norm.weight", "norm.bias", "head.weight", "head.bias"], ps.Select(p => p.Name));
        Assert.Equal([ParamRole.Embedding, ParamRole.Matrix, ParamRole.Vector, ParamRole.Vector, ParamRole.Vector, ParamRole.OutputHead, ParamRole.Vector],
            ps.Select(p => p.Role));

        var overridden = ModuleParameters.From(model, (name, _) => name == "head.weight" ? ParamRole.Matrix : null);
        Assert.Equal(ParamRole.Matrix, overridden.Single(p => p.Name == "head.weight").Role);
        Assert.Equal(ps.Where(p => p.Name != "head.weight").Select(p => p.Role), overridden.Where(p => p.Name != "head.weight").Select(p => p.Role));

        // Frozen parameters are not listed.
        model.named_parameters().Single(p => p.name == "hidden.bias").parameter.requires_grad = false;
        Assert.DoesNotContain("hidden.bias", ModuleParameters.From(model).Select(p => p.Name));
    }

    [Theory]
    [InlineData("adamw", 1e-2)]
    [InlineData("galore", 1e-2)]
    public void A_plain_torchsharp_loop_trains_with_a_catalog_optimizer(string kind, double lr)
    {
        using var model = Model(1);
        using var inputs = arange(Vocab, ScalarType.Int64);
        using var targets = inputs.mul(3).add(1).remainder(Vocab);   // a fixed permutation of the tokens
        double Loss()
        {
            using var noGrad = no_grad();
            using var logits = model.forward(inputs);
            using var loss = nn.functional.cross_entropy(logits, targets);
            return loss.item<float>();
        }

        var descriptor = OptimizerCatalog.Find(kind)!;
        var options = descriptor.DefaultOptions() with { Lr = lr };
        using var optimizer = descriptor.Create(ModuleParameters.From(model), options);
        var initial = Loss();
        for (var step = 0; step < 80; step++)
        {
            using var scope = NewDisposeScope();
            optimizer.ZeroGrad();
            nn.functional.cross_entropy(model.forward(inputs), targets).backward();
            optimizer.Step(lr);
        }
        var final = Loss();
        output.WriteLine($"{kind}: loss {initial:F4} -> {final:F4}");
        Assert.True(final < 0.1 * initial, $"{kind}: loss {initial} -> {final}");
    }
}
