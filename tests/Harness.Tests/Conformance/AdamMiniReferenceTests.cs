using Harness.Optimizers;
using Harness.Optimizers.AdamMini;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Harness.Tests.Conformance;

/// <summary>Adam-mini against the reference's block update written out in double arithmetic, with its LLaMA partition.</summary>
public sealed class AdamMiniReferenceTests
{
    /// <summary>A parameter of the check: name, role, shape, start values and the block of each (flat) element.</summary>
    private sealed record Case(string Name, ParamRole Role, long[] Shape, double[] Start, int[] BlockOf);

    private static readonly Case[] Cases =
    [
        // Query with n_heads = 1 over d = 2: blocks of d² = 4 elements, i.e. 2 rows each.
        new("layers.0.self_attn.q_proj.weight", ParamRole.Matrix, [4, 2], [0.5, -0.3, 0.1, 0.8, -0.7, 0.2, 0.4, -0.1], [0, 0, 0, 0, 1, 1, 1, 1]),
        // Value: one block per output neuron (row).
        new("layers.0.self_attn.v_proj.weight", ParamRole.Matrix, [2, 3], [0.2, 0.1, -0.5, 0.3, 0.6, -0.2], [0, 0, 0, 1, 1, 1]),
        // Embedding: one block per token row.
        new("embed_tokens.weight", ParamRole.Embedding, [3, 2], [0.05, -0.02, 0.3, 0.1, -0.4, 0.25], [0, 0, 1, 1, 2, 2]),
        // Norm: one block for the whole vector; no weight decay.
        new("layers.0.input_layernorm.weight", ParamRole.Vector, [3], [1.0, 0.9, 1.1], [0, 0, 0]),
        // Bias: Adam, one block per element; no weight decay.
        new("layers.0.mlp.bias", ParamRole.Vector, [2], [0.01, -0.02], [0, 1]),
    ];

    [Fact]
    public void Three_steps_match_a_hand_computed_reference_with_the_LLaMA_partition()
    {
        const double lr = 0.05, wd = 0.1, b1 = 0.9, b2 = 0.95, eps = 1e-8;
        using var scope = NewDisposeScope();
        var gen = new TorchSharp.torch.Generator(21);
        var ps = Cases.Select(c => new NamedParameter(c.Name, new Parameter(tensor(c.Start.Select(x => (float)x).ToArray(), c.Shape), requires_grad: true), c.Role)).ToList();
        var options = new AdamMiniOptions { Lr = lr, Betas = [b1, b2], Eps = eps, WeightDecay = wd, NHeads = 1 };
        using var opt = new AdamMini(ps, options);

        var p = Cases.Select(c => c.Start.ToArray()).ToArray();
        var m = Cases.Select(c => new double[c.Start.Length]).ToArray();
        var v = Cases.Select(c => new double[c.BlockOf.Max() + 1]).ToArray();
        for (var t = 1; t <= 3; t++)
        {
            for (var k = 0; k < Cases.Length; k++)
            {
                var c = Cases[k];
                var g = randn(c.Shape, generator: gen).mul_(0.3);
                var gd = g.data<float>().Select(x => (double)x).ToArray();
                ps[k].Value.grad = g;
                for (var b = 0; b < v[k].Length; b++)
                {
                    var members = Enumerable.Range(0, gd.Length).Where(i => c.BlockOf[i] == b).ToList();
                    v[k][b] = b2 * v[k][b] + (1 - b2) * members.Average(i => gd[i] * gd[i]);
                }
                var decay = c.Role == ParamRole.Vector ? 1 : 1 - lr * wd;
                for (var i = 0; i < gd.Length; i++)
                {
                    m[k][i] = b1 * m[k][i] + (1 - b1) * gd[i];
                    var h = Math.Sqrt(v[k][c.BlockOf[i]]) / Math.Sqrt(1 - Math.Pow(b2, t)) + eps;
                    p[k][i] = p[k][i] * decay - lr * m[k][i] / ((1 - Math.Pow(b1, t)) * h);
                }
            }
            opt.Step(lr);
            for (var k = 0; k < Cases.Length; k++)
            {
                var ours = ps[k].Value.data<float>().ToArray();
                for (var i = 0; i < ours.Length; i++) Assert.Equal(p[k][i], ours[i], 2e-6);
            }
        }
        // m for every element plus one value per block: 8+2, 6+2, 6+3, 3+1, 2+2 floats.
        Assert.Equal((10 + 8 + 9 + 4 + 4) * 4, opt.StateBytes);
        Assert.Equal(AdamMini.ExpectedStateBytes(ps, options), opt.StateBytes);
    }

    [Fact]
    public void A_query_matrix_that_does_not_split_into_heads_is_rejected_with_its_name()
    {
        using var scope = NewDisposeScope();
        var q = new NamedParameter("q_proj.weight", new Parameter(zeros(6, 4), requires_grad: true), ParamRole.Matrix);
        var e = Assert.Throws<ArgumentException>(() => AdamMini.Blocks(q, new AdamMiniOptions { NHeads = 3 }));
        Assert.Contains("q_proj.weight", e.Message, StringComparison.Ordinal);
        // 4 heads over d = 4: blocks of 4 elements (one row each); 2 heads: blocks of 8 (two rows).
        Assert.Equal(6, AdamMini.Blocks(q, new AdamMiniOptions { NHeads = 4 }));
        Assert.Equal(3, AdamMini.Blocks(q, new AdamMiniOptions { NHeads = 2 }));
    }
}
