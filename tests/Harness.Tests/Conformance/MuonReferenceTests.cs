using Harness.Optimizers;
using Harness.Optimizers.Muon;
using static Harness.Tests.Conformance.DoubleMatrix;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Harness.Tests.Conformance;

/// <summary>Muon against the formulas of <c>muon.py</c> / <c>torch.optim.Muon</c> written out in double arithmetic.</summary>
public sealed class MuonReferenceTests
{
    private static readonly double[][][] MatrixGrads =
    [
        [[0.3, -0.1], [0.2, 0.4], [-0.5, 0.1]],
        [[-0.2, 0.3], [0.1, -0.6], [0.4, 0.2]],
        [[0.1, 0.1], [-0.3, 0.2], [0.2, -0.4]],
    ];

    private static readonly double[][] VectorGrads = [[0.5, -0.25], [-0.1, 0.3], [0.2, 0.2]];

    /// <summary>
    /// Three steps of a 3×2 matrix (tall: iterated transposed, shape factor √1.5) and a 2-vector (AdamW part), with
    /// Nesterov momentum, weight decay, and a schedule that halves the lr at step 2 (the AdamW part must follow it).
    /// </summary>
    [Theory]
    [InlineData(MuonAdjustLr.Original, true)]
    [InlineData(MuonAdjustLr.MatchRmsAdamw, false)]
    public void Three_steps_match_a_hand_computed_reference(MuonAdjustLr adjust, bool nesterov)
    {
        const double lr = 0.05, adamLr = 0.01, mu = 0.9, wd = 0.1, b1 = 0.8, b2 = 0.95, eps = 1e-10;
        double[] lrFactors = [1.0, 0.5, 1.0];
        var w = FromRows([[0.5, -0.3], [0.1, 0.8], [-0.7, 0.2]]);
        double[] v = [0.4, -0.6];

        using var scope = NewDisposeScope();
        var pw = new NamedParameter("w", new Parameter(tensor(Flatten(w), [3, 2]), requires_grad: true), ParamRole.Matrix);
        var pv = new NamedParameter("v", new Parameter(tensor(v.Select(x => (float)x).ToArray()), requires_grad: true), ParamRole.Vector);
        using var muon = new Muon([pw, pv], new MuonOptions
        {
            Lr = lr, Momentum = mu, Nesterov = nesterov, WeightDecay = wd, AdjustLr = adjust, NsDtype = NewtonSchulzDtype.Float32,
            AdamLr = adamLr, AdamBetas = [b1, b2], AdamEps = eps,
        });

        var buf = new double[3, 2];
        double[] m = [0, 0], s = [0, 0];
        var (a, b, c) = (3.4445, -4.7750, 2.0315);
        var shapeFactor = adjust == MuonAdjustLr.Original ? Math.Sqrt(3.0 / 2) : 0.2 * Math.Sqrt(3);
        for (var t = 1; t <= 3; t++)
        {
            var eta = lr * lrFactors[t - 1];
            var g = FromRows(MatrixGrads[t - 1]);
            buf = Combine(mu, buf, 1 - mu, g);
            var u = nesterov ? Combine(mu, buf, 1 - mu, g) : buf;
            var x = Transpose(u); // 3×2 is tall: iterate on the 2×3 transpose
            x = Combine(1 / FrobeniusNorm(x), x, 0, x);
            for (var k = 0; k < 5; k++)
            {
                var gram = Multiply(x, Transpose(x));
                var poly = Combine(b, gram, c, Multiply(gram, gram));
                x = Combine(a, x, 1, Multiply(poly, x));
            }
            w = Combine(1 - eta * wd, w, -eta * shapeFactor, Transpose(x));

            // The AdamW part at lr η·adam_lr/lr (muon.py's adam_update; weight decay 0).
            var etaAdam = adamLr * lrFactors[t - 1];
            for (var j = 0; j < 2; j++)
            {
                var gj = VectorGrads[t - 1][j];
                m[j] = b1 * m[j] + (1 - b1) * gj;
                s[j] = b2 * s[j] + (1 - b2) * gj * gj;
                v[j] -= etaAdam * (m[j] / (1 - Math.Pow(b1, t))) / (Math.Sqrt(s[j] / (1 - Math.Pow(b2, t))) + eps);
            }

            pw.Value.grad = tensor(Flatten(g), [3, 2]);
            pv.Value.grad = tensor(VectorGrads[t - 1].Select(x => (float)x).ToArray());
            muon.Step(eta);

            var ours = pw.Value.data<float>().ToArray();
            var expected = w.Cast<double>().ToArray();
            for (var j = 0; j < 6; j++) Assert.Equal(expected[j], ours[j], 2e-6);
            var oursV = pv.Value.data<float>().ToArray();
            for (var j = 0; j < 2; j++) Assert.Equal(v[j], oursV[j], 2e-6);
        }
    }

    [Fact]
    public void Bfloat16_Newton_Schulz_stays_within_bf16_rounding_of_the_float32_iteration()
    {
        using var scope = NewDisposeScope();
        var g = randn([4, 32, 24], generator: new TorchSharp.torch.Generator(5));
        var fp32 = NewtonSchulz.Orthogonalize(g, NewtonSchulz.QuinticCoefficients, 5, 1e-7, ScalarType.Float32);
        var bf16 = NewtonSchulz.Orthogonalize(g, NewtonSchulz.QuinticCoefficients, 5, 1e-7, ScalarType.BFloat16).to_type(ScalarType.Float32);
        var relative = ((bf16 - fp32).norm() / fp32.norm()).item<float>();
        // bf16 keeps 8 mantissa bits (2^-9 ≈ 2e-3 relative per op); the quintic amplifies small singular values (slope
        // a = 3.4 at 0) over 5 iterations: measured 3.2e-2 here.
        Assert.InRange(relative, 1e-3, 6e-2);
        // Orthogonalised: every singular value in the quintic's band (about [0.7, 1.2]) instead of spread like G's.
        var sv = linalg.svdvals(fp32);
        Assert.InRange(sv.min().item<float>(), 0.6f, 1.0f);
        Assert.InRange(sv.max().item<float>(), 1.0f, 1.3f);
    }

    [Fact]
    public void Auto_dtype_is_float32_on_the_CPU()
    {
        using var scope = NewDisposeScope();
        var init = randn([12, 8], generator: new TorchSharp.torch.Generator(8));
        NamedParameter Make() => new("w", new Parameter(init.clone(), requires_grad: true), ParamRole.Matrix);
        var (auto, fp32, bf16) = (Make(), Make(), Make());
        using var oa = new Muon([auto], new MuonOptions());
        using var of = new Muon([fp32], new MuonOptions { NsDtype = NewtonSchulzDtype.Float32 });
        using var ob = new Muon([bf16], new MuonOptions { NsDtype = NewtonSchulzDtype.Bfloat16 });
        var g = randn([12, 8], generator: new TorchSharp.torch.Generator(9));
        foreach (var (p, o) in new[] { (auto, oa), (fp32, of), (bf16, ob) })
        {
            p.Value.grad = g.clone();
            o.Step(0.02);
        }
        Assert.True(auto.Value.equal(fp32.Value).all().item<bool>());
        Assert.False(auto.Value.equal(bf16.Value).all().item<bool>());
    }

    [Fact]
    public void Batched_Newton_Schulz_gives_each_matrix_its_own_result()
    {
        using var scope = NewDisposeScope();
        var g = randn([3, 8, 5], generator: new TorchSharp.torch.Generator(6));
        var batched = NewtonSchulz.Orthogonalize(g, NewtonSchulz.QuinticCoefficients, 5, 1e-7, ScalarType.Float32);
        for (var i = 0; i < 3; i++)
        {
            var single = NewtonSchulz.Orthogonalize(g[i], NewtonSchulz.QuinticCoefficients, 5, 1e-7, ScalarType.Float32);
            Assert.InRange((batched[i] - single).abs().max().item<float>(), 0, 1e-6);
        }
    }

    [Fact]
    public void Batched_and_per_matrix_steps_agree_and_only_matrices_use_Muon()
    {
        using var scope = NewDisposeScope();
        var gen = new TorchSharp.torch.Generator(7);
        var init = new[] { randn([6, 4], generator: gen), randn([6, 4], generator: gen), randn([10, 4], generator: gen), randn([4], generator: gen) };
        NamedParameter[] Make() =>
            init.Select((t, i) => new NamedParameter($"p{i}", new Parameter(t.clone(), requires_grad: true),
                i == 3 ? ParamRole.Vector : i == 2 ? ParamRole.Embedding : ParamRole.Matrix)).ToArray();
        var (batched, single) = (Make(), Make());
        using var ob = new Muon(batched, new MuonOptions { NsDtype = NewtonSchulzDtype.Float32 });
        using var os = new Muon(single, new MuonOptions { NsDtype = NewtonSchulzDtype.Float32, BatchNewtonSchulz = false });
        for (var step = 0; step < 3; step++)
        {
            for (var i = 0; i < init.Length; i++)
            {
                var g = randn(init[i].shape, generator: gen);
                batched[i].Value.grad = g.clone();
                single[i].Value.grad = g;
            }
            ob.Step(0.02);
            os.Step(0.02);
        }
        for (var i = 0; i < init.Length; i++)
            Assert.InRange((batched[i].Value - single[i].Value).abs().max().item<float>(), 0, 1e-6);
        // Muon keeps one buffer per matrix (2 × 24 floats); AdamW two per other parameter (2 × (40 + 4) floats).
        Assert.Equal((2 * 24 + 2 * 44) * 4, ob.StateBytes);
        Assert.Equal(["p0/momentum_buffer", "p0/step", "p1/momentum_buffer", "p1/step", "p2/exp_avg", "p2/exp_avg_sq", "p2/step", "p3/exp_avg", "p3/exp_avg_sq", "p3/step"],
            ob.StateDict().Keys.Order(StringComparer.Ordinal));
    }
}
