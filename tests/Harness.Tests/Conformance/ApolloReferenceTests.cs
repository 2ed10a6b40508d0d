using Harness.Optimizers;
using Harness.Optimizers.Apollo;
using static Harness.Tests.Conformance.DoubleMatrix;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Harness.Tests.Conformance;

/// <summary>APOLLO against the reference's update (<c>apollo_torch/apollo.py</c>) written out in double arithmetic.</summary>
public sealed class ApolloReferenceTests
{
    /// <summary>
    /// Three steps of a tall 3×2 matrix (right projection, channels = rows) and a wide 2×3 one (left projection,
    /// channels = columns), rank 2, a new projection at step 3 (gap 2), weight decay. The random P of each step is
    /// read back from the state (its draw is checked separately); everything else is the reference's formula.
    /// </summary>
    [Theory]
    [InlineData(ApolloScaleType.Channel, false, 1.0)]
    [InlineData(ApolloScaleType.Tensor, true, 4.0)]
    public void Three_steps_match_a_hand_computed_reference(ApolloScaleType scaleType, bool scaleFront, double scale)
    {
        const double lr = 0.05, wd = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-6;
        var gen = new TorchSharp.torch.Generator(9);
        using var scope = NewDisposeScope();
        double[][,] w = [FromRows([[0.5, -0.3], [0.1, 0.8], [-0.7, 0.2]]), FromRows([[0.2, 0.1, -0.5], [0.3, 0.6, -0.2]])];
        var ps = w.Select((x, i) => new NamedParameter($"w{i}", new Parameter(tensor(Flatten(x), [x.GetLength(0), x.GetLength(1)]), requires_grad: true), ParamRole.Matrix)).ToList();
        using var apollo = new Apollo(ps, new ApolloOptions
        {
            Lr = lr, Betas = [b1, b2], Eps = eps, WeightDecay = wd, Rank = 2, ScaleType = scaleType, Scale = scale,
            ScaleFront = scaleFront, UpdateProjGap = 2,
        });

        var m = new double[2][,];
        var v = new double[2][,];
        var last = new double?[2];
        for (var t = 1; t <= 3; t++)
        {
            var grads = w.Select(x => randn([x.GetLength(0), x.GetLength(1)], generator: gen).mul_(0.3)).ToList();
            for (var i = 0; i < 2; i++) ps[i].Value.grad = grads[i].clone();
            apollo.Step(lr);
            var state = apollo.StateDict();
            for (var i = 0; i < 2; i++)
            {
                var g = ToDouble(grads[i]);
                var p = ToDouble(state[$"w{i}/projection"]);
                var wide = g.GetLength(0) < g.GetLength(1);
                var r = wide ? Multiply(Transpose(p), g) : Multiply(g, Transpose(p));
                m[i] = t == 1 ? Combine(0, r, 1 - b1, r) : Combine(b1, m[i], 1 - b1, r);
                v[i] = t == 1 ? Square(r, 1 - b2) : Combine(b2, v[i], 1, Square(r, 1 - b2));
                var n = new double[r.GetLength(0), r.GetLength(1)];
                for (var a = 0; a < n.GetLength(0); a++)
                    for (var c = 0; c < n.GetLength(1); c++)
                        n[a, c] = m[i][a, c] / (Math.Sqrt(v[i][a, c]) + eps);
                var scaled = new double[g.GetLength(0), g.GetLength(1)];
                for (var a = 0; a < g.GetLength(0); a++)
                    for (var c = 0; c < g.GetLength(1); c++)
                    {
                        var factor = scaleType == ApolloScaleType.Tensor ? FrobeniusNorm(n) / (FrobeniusNorm(r) + 1e-8)
                            : wide ? ColumnNorm(n, c) / (ColumnNorm(r, c) + 1e-8) : RowNorm(n, a) / (RowNorm(r, a) + 1e-8);
                        scaled[a, c] = g[a, c] * factor * (scaleFront ? Math.Sqrt(scale) : 1);
                    }
                var norm = FrobeniusNorm(scaled);
                if (last[i] is { } previous)
                {
                    var limiter = Math.Max(norm / (previous + 1e-8), 1.01) / 1.01;
                    scaled = Combine(1 / limiter, scaled, 0, scaled);
                    norm /= limiter;
                }
                last[i] = norm;
                if (!scaleFront) scaled = Combine(Math.Sqrt(scale), scaled, 0, scaled);
                var stepSize = lr * Math.Sqrt(1 - Math.Pow(b2, t)) / (1 - Math.Pow(b1, t));
                w[i] = Combine(1, w[i], -stepSize, scaled);
                w[i] = Combine(1 - lr * wd, w[i], 0, w[i]);

                var ours = ps[i].Value.data<float>().ToArray();
                var expected = w[i].Cast<double>().ToArray();
                for (var j = 0; j < expected.Length; j++) Assert.Equal(expected[j], ours[j], 2e-6);
            }
        }
    }

    [Fact]
    public void Projections_are_the_reference_draws_and_change_every_gap()
    {
        using var scope = NewDisposeScope();
        // torch.Generator().manual_seed(0): randn(3) = [1.5410, -0.2934, -2.1788] in PyTorch; TorchSharp's CPU generator is the same.
        var check = randn([3], generator: new TorchSharp.torch.Generator(0)).data<float>().ToArray();
        Assert.Equal([1.5410, -0.2934, -2.1788], check.Select(x => Math.Round(x, 4)));

        var w = new NamedParameter("a", new Parameter(zeros(4, 3), requires_grad: true), ParamRole.Matrix);
        var b = new NamedParameter("b", new Parameter(zeros(5, 2), requires_grad: true), ParamRole.Matrix);
        using var apollo = new Apollo([w, b], new ApolloOptions { Rank = 2, UpdateProjGap = 2 });
        var projections = new List<Tensor>();
        for (var t = 0; t < 3; t++)
        {
            w.Value.grad = ones(4, 3);
            b.Value.grad = ones(5, 2);
            apollo.Step(1e-2);
            projections.Add(apollo.StateDict()["b/projection"].clone());
        }
        // Parameter index 1 -> seed 2 (the reference numbers parameters from 1); P = randn(r, n)/√r for a tall matrix.
        var first = randn([2, 2], generator: new TorchSharp.torch.Generator(2)).div_(Math.Sqrt(2));
        Assert.True(first.equal(projections[0]).all().item<bool>());
        Assert.True(projections[1].equal(projections[0]).all().item<bool>());
        Assert.False(projections[2].equal(projections[0]).all().item<bool>());
    }

    [Fact]
    public void The_mini_variant_is_rank_1_tensor_wise_with_scale_128()
    {
        using var scope = NewDisposeScope();
        var w = new NamedParameter("w", new Parameter(zeros(64, 16), requires_grad: true), ParamRole.Matrix);
        var v = new NamedParameter("v", new Parameter(zeros(16), requires_grad: true), ParamRole.Vector);
        var options = new ApolloOptions { Variant = ApolloVariant.Mini };
        using var apollo = new Apollo([w, v], options);
        w.Value.grad = randn(64, 16, generator: new TorchSharp.torch.Generator(1));
        v.Value.grad = ones(16);
        apollo.Step(1e-2);
        // P 1×16, M and V 64×1, the seed and the limiter's norm; Adam's m and v for the vector.
        Assert.Equal((16 + 2 * 64) * 4 + 8 + 4 + 2 * 16 * 4, apollo.StateBytes);
        // Tensor-wise: one factor for the whole matrix, so the step is a multiple of G.
        var ratio = w.Value / w.Value.grad;
        Assert.InRange((ratio.max() - ratio.min()).item<float>(), 0, 1e-6 * ratio.abs().max().item<float>());
        Assert.Equal(Apollo.ExpectedStateBytes([w, v], options), apollo.StateBytes);
    }

    private static double[,] ToDouble(Tensor t)
    {
        var data = t.to_type(ScalarType.Float64).data<double>().ToArray();
        var (rows, cols) = (t.shape[0], t.shape[1]);
        var r = new double[rows, cols];
        for (var i = 0; i < rows; i++)
            for (var j = 0; j < cols; j++)
                r[i, j] = data[i * cols + j];
        return r;
    }

    private static double[,] Square(double[,] x, double factor)
    {
        var r = new double[x.GetLength(0), x.GetLength(1)];
        for (var i = 0; i < x.GetLength(0); i++)
            for (var j = 0; j < x.GetLength(1); j++)
                r[i, j] = factor * x[i, j] * x[i, j];
        return r;
    }

    private static double RowNorm(double[,] x, int row) => Math.Sqrt(Enumerable.Range(0, x.GetLength(1)).Sum(j => x[row, j] * x[row, j]));

    private static double ColumnNorm(double[,] x, int col) => Math.Sqrt(Enumerable.Range(0, x.GetLength(0)).Sum(i => x[i, col] * x[i, col]));
}
