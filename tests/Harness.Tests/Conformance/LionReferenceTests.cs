using Harness.Optimizers;
using Harness.Optimizers.Lion;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Harness.Tests.Conformance;

/// <summary>Lion against the paper's update written out in plain double arithmetic.</summary>
public sealed class LionReferenceTests
{
    [Fact]
    public void Three_steps_match_a_hand_computed_reference()
    {
        const double lr = 0.1, wd = 0.5, beta1 = 0.9, beta2 = 0.99;
        double[] p = [0.5, -1.0, 2.0, 0.25];
        // Element 2 sees g = 0 at step 1 with zero momentum, so sign(0) = 0 moves it by decay alone;
        // element 3's interpolation changes sign between steps.
        double[][] grads = [[0.1, -0.2, 0.0, 1.0], [-0.3, 0.4, 0.05, -2.0], [0.2, 0.0, -0.1, -0.5]];

        using var scope = NewDisposeScope();
        var param = new NamedParameter("x", new Parameter(tensor(p.Select(v => (float)v).ToArray()), requires_grad: true), ParamRole.Vector);
        using var lion = new Lion([param], new LionOptions { Lr = lr, Betas = [beta1, beta2], WeightDecay = wd });

        var m = new double[p.Length];
        foreach (var g in grads)
        {
            for (var j = 0; j < p.Length; j++)
            {
                p[j] *= 1 - lr * wd;
                var c = beta1 * m[j] + (1 - beta1) * g[j];
                p[j] -= lr * Math.Sign(c);
                m[j] = beta2 * m[j] + (1 - beta2) * g[j];
            }
            param.Value.grad = tensor(g.Select(v => (float)v).ToArray());
            lion.Step(lr);

            var ours = param.Value.data<float>().ToArray();
            for (var j = 0; j < p.Length; j++)
                Assert.Equal(p[j], ours[j], 1e-6);
        }
    }
}
