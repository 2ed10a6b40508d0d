using Harness.Optimizers;
using Harness.Optimizers.Adafactor;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Harness.Tests.Conformance;

/// <summary>Adafactor against <c>torch.optim.Adafactor</c>'s update (and the HF-style options) written out in double arithmetic.</summary>
public sealed class AdafactorReferenceTests
{
    private static readonly double[][][] MatrixGrads =
    [
        [[0.3, -0.1, 0.05], [0.2, 0.4, -0.6]],
        [[-0.2, 0.3, 0.1], [0.1, -0.6, 0.2]],
        [[0.1, 0.1, -0.3], [-0.3, 0.2, 0.4]],
    ];

    private static readonly double[][] VectorGrads = [[0.5, -0.25], [-0.1, 0.3], [0.2, 1e-4]];

    /// <summary>
    /// Three steps of a 2×3 matrix (factored) and a 2-vector. lr 0.6 makes ρ = min(lr, 1/√t) switch from lr to 1/√3 at
    /// step 3; d = 1 clips; ε1 = 1e-3 is large enough to bite on the vector's tiny gradient at step 3. The second case
    /// is the GaLore comparison's HF-style setting: no relative step, no parameter scale, a first moment.
    /// </summary>
    [Theory]
    [InlineData(true, true, null)]
    [InlineData(false, false, 0.9)]
    public void Three_steps_match_a_hand_computed_reference(bool relativeStep, bool scaleParameter, double? beta1)
    {
        const double lr = 0.6, wd = 0.1, tau = -0.8, eps1 = 1e-3, eps2 = 1e-3, d = 1.0;
        double[][] w = [[0.5, -0.3, 0.2], [0.1, 0.8, -0.4]];
        double[] v = [0.004, -0.6];

        using var scope = NewDisposeScope();
        var pw = new NamedParameter("w", new Parameter(tensor(w.SelectMany(r => r).Select(x => (float)x).ToArray(), [2, 3]), requires_grad: true), ParamRole.Matrix);
        var pv = new NamedParameter("v", new Parameter(tensor(v.Select(x => (float)x).ToArray()), requires_grad: true), ParamRole.Vector);
        using var opt = new Adafactor([pw, pv], new AdafactorOptions
        {
            Lr = lr, WeightDecay = wd, Beta2Decay = tau, Eps1 = eps1, Eps2 = eps2, D = d,
            RelativeStep = relativeStep, ScaleParameter = scaleParameter, Beta1 = beta1,
        });

        var (row, col, variance) = (new double[2], new double[3], new double[2]);
        var (mw, mv) = (new double[2, 3], new double[2]);
        for (var t = 1; t <= 3; t++)
        {
            var g = MatrixGrads[t - 1];
            var gv = VectorGrads[t - 1];
            var weight = Math.Pow(t, tau);
            var rho = relativeStep ? Math.Min(lr, 1 / Math.Sqrt(t)) : lr;

            // Matrix: factored estimate.
            var alpha = scaleParameter ? Math.Max(eps2, Rms(w.SelectMany(r => r))) * rho : rho;
            foreach (var r in w) for (var j = 0; j < 3; j++) r[j] *= 1 - lr * wd;
            for (var i = 0; i < 2; i++) row[i] += weight * (g[i].Average(x => x * x) - row[i]);
            for (var j = 0; j < 3; j++) col[j] += weight * ((g[0][j] * g[0][j] + g[1][j] * g[1][j]) / 2 - col[j]);
            var rowMean = Math.Max(row.Average(), eps1);
            var u = new double[2, 3];
            for (var i = 0; i < 2; i++)
                for (var j = 0; j < 3; j++)
                    u[i, j] = g[i][j] / Math.Sqrt(Math.Max(row[i] * col[j] / rowMean, eps1 * eps1));
            var clip = Math.Max(1, Rms(u.Cast<double>()) / d);
            for (var i = 0; i < 2; i++)
                for (var j = 0; j < 3; j++)
                {
                    var step = u[i, j] / clip;
                    if (beta1 is { } b1) step = mw[i, j] = b1 * mw[i, j] + (1 - b1) * step;
                    w[i][j] -= alpha * step;
                }

            // Vector: unfactored.
            var alphaV = scaleParameter ? Math.Max(eps2, Rms(v)) * rho : rho;
            for (var j = 0; j < 2; j++) v[j] *= 1 - lr * wd;
            var uv = new double[2];
            for (var j = 0; j < 2; j++)
            {
                variance[j] += weight * (gv[j] * gv[j] - variance[j]);
                uv[j] = gv[j] / Math.Sqrt(Math.Max(variance[j], eps1 * eps1));
            }
            var clipV = Math.Max(1, Rms(uv) / d);
            for (var j = 0; j < 2; j++)
            {
                var step = uv[j] / clipV;
                if (beta1 is { } b1) step = mv[j] = b1 * mv[j] + (1 - b1) * step;
                v[j] -= alphaV * step;
            }

            pw.Value.grad = tensor(g.SelectMany(r => r).Select(x => (float)x).ToArray(), [2, 3]);
            pv.Value.grad = tensor(gv.Select(x => (float)x).ToArray());
            opt.Step(lr);

            var ours = pw.Value.data<float>().ToArray();
            var expected = w.SelectMany(r => r).ToArray();
            for (var j = 0; j < 6; j++) Assert.Equal(expected[j], ours[j], 2e-6);
            var oursV = pv.Value.data<float>().ToArray();
            for (var j = 0; j < 2; j++) Assert.Equal(v[j], oursV[j], 2e-6);
        }
    }

    [Fact]
    public void A_rank_3_parameter_is_factored_over_its_last_two_dimensions()
    {
        using var scope = NewDisposeScope();
        var p = new NamedParameter("c", new Parameter(randn([4, 5, 6], generator: new TorchSharp.torch.Generator(3)), requires_grad: true), ParamRole.Matrix);
        using var opt = new Adafactor([p], new AdafactorOptions());
        p.Value.grad = randn([4, 5, 6], generator: new TorchSharp.torch.Generator(4));
        opt.Step(1e-2);
        var state = opt.StateDict();
        Assert.Equal([4L, 5, 1], state["c/row_var"].shape);
        Assert.Equal([4L, 1, 6], state["c/col_var"].shape);
        Assert.Equal(4 * (5 + 6) * 4, opt.StateBytes);
    }

    private static double Rms(IEnumerable<double> xs)
    {
        var list = xs.ToList();
        return Math.Sqrt(list.Sum(x => x * x) / list.Count);
    }
}
