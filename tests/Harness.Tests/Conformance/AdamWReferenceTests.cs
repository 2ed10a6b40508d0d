using Harness.Optimizers;
using Harness.Optimizers.AdamW;
using Xunit.Abstractions;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Harness.Tests.Conformance;

/// <summary>Our AdamW against TorchSharp's own <c>torch.optim.AdamW</c>, an independent implementation.</summary>
public sealed class AdamWReferenceTests(ITestOutputHelper output)
{
    [Fact]
    public void Matches_torch_optim_AdamW_over_25_steps()
    {
        const double lr = 1e-2, wd = 0.1, beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
        using var scope = NewDisposeScope();
        var gen = new TorchSharp.torch.Generator(42);
        long[][] shapes = [[7, 5], [13], [3, 4, 2]];
        var init = shapes.Select(s => randn(s, generator: gen)).ToList();

        var ours = init.Select((t, i) => new NamedParameter($"p{i}", new Parameter(t.clone(), requires_grad: true), ParamRole.Matrix)).ToList();
        var theirs = init.Select(t => new Parameter(t.clone(), requires_grad: true)).ToList();
        using var adamw = new AdamW(ours, new AdamWOptions { Lr = lr, Betas = [beta1, beta2], Eps = eps, WeightDecay = wd });
        var reference = optim.AdamW(theirs, lr, beta1, beta2, eps, wd);

        var maxDiff = 0.0;
        for (var step = 0; step < 25; step++)
        {
            for (var i = 0; i < shapes.Length; i++)
            {
                var g = randn(shapes[i], generator: gen);
                ours[i].Value.grad = g.clone();
                theirs[i].grad = g.clone();
            }
            adamw.Step(lr);
            reference.step();
            for (var i = 0; i < shapes.Length; i++)
                maxDiff = Math.Max(maxDiff, (ours[i].Value - theirs[i]).abs().max().item<float>());
        }

        output.WriteLine($"max |ours - torch.optim.AdamW| over 25 steps: {maxDiff:e3}");
        Assert.InRange(maxDiff, 0, 1e-6);
    }
}
