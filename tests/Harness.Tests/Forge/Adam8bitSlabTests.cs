using Harness.Optimizers;
using Harness.Optimizers.Adam8bit;
using Harness.Optimizers.Quantization;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Harness.Tests.Forge;

/// <summary>8-bit Adam stepped in row slabs (FORGE) against its whole-tensor step.</summary>
public sealed class Adam8bitSlabTests
{
    private static NamedParameter Param(string name, Tensor value, ParamRole role = ParamRole.Matrix) =>
        new(name, new Parameter(value, requires_grad: true), role);

    [Theory]
    [InlineData(32, 2048, 0, 64)]     // tiny LLaMA lm_head: 2048 / 32 rows per block
    [InlineData(48, 256, 0, 16)]      // gcd(48, 256) = 16
    [InlineData(4096, 2048, 0, 1)]    // a row holds two blocks
    [InlineData(96, 64, 0, 2)]        // gcd(96, 64) = 32
    [InlineData(32, 2048, 1 << 20, 1)] // below min_8bit_size: fp32 moments, any row slab works
    public void Slab_alignment_is_the_rows_of_one_absmax_block(int columns, int blockSize, long min8BitSize, long expected)
    {
        using var scope = NewDisposeScope();
        var p = Param("w", zeros(256, columns));
        using var opt = new Adam8bit([p], new Adam8bitOptions { BlockSize = blockSize, Min8BitSize = min8BitSize });
        Assert.Equal(expected, opt.SlabRowAlignment(p));
    }

    [Fact]
    public void An_embedding_kept_at_32_bits_needs_no_alignment()
    {
        using var scope = NewDisposeScope();
        var emb = Param("emb", zeros(256, 32), ParamRole.Embedding);
        using var quantized = new Adam8bit([emb], new Adam8bitOptions());
        using var fp32 = new Adam8bit([emb], new Adam8bitOptions { Fp32Embedding = true });
        Assert.Equal(64, quantized.SlabRowAlignment(emb));
        Assert.Equal(1, fp32.SlabRowAlignment(emb));
    }

    /// <summary>
    /// A 50×48 weight in blocks of 256 (9.375 blocks, the last one partial): slabs of 16 rows (3 blocks each) and a
    /// final slab of 2 rows (96 elements, the padded partial block) give the whole step's parameters, codes and
    /// absmax, bit for bit, over several steps; with non-finite gradient entries and weight decay too.
    /// </summary>
    [Theory]
    [InlineData(16)]
    [InlineData(32)]
    [InlineData(48)]
    public void Aligned_slabs_give_the_whole_step_bit_for_bit(long slabRows)
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(7);
        var init = randn([50, 48], generator: gen).mul_(0.1f);
        var whole = Param("w", init.clone());
        var slabbed = Param("w", init.clone());
        var options = new Adam8bitOptions { Lr = 1e-2, WeightDecay = 0.1, BlockSize = 256, Min8BitSize = 0 };
        using var a = new Adam8bit([whole], options);
        using var b = new Adam8bit([slabbed], options);
        for (var t = 1; t <= 5; t++)
        {
            var g = randn([50, 48], generator: gen).mul_(0.01f);
            if (t == 2) g[3, 5] = tensor(float.NaN);
            whole.Value.grad = g.clone();
            a.Step(1e-2);
            a.ZeroGrad();
            var slabs = new List<GradientSlab>();
            for (long start = 0; start < 50; start += slabRows)
                slabs.Add(new GradientSlab(start, g.narrow(0, start, Math.Min(slabRows, 50 - start)).clone()));
            b.StepSlabs(slabbed, slabs, 1e-2);
        }
        Assert.Equal(0f, (whole.Value - slabbed.Value).abs().max().item<float>());
        var (sa, sb) = (a.StateDict(), b.StateDict());
        Assert.Equal(5L, sb["w/step"].item<long>()); // one step per call, not per slab
        foreach (var key in new[] { "w/state1", "w/state2", "w/absmax1", "w/absmax2" })
            Assert.True(sa[key].eq(sb[key]).all().item<bool>(), key);
    }

    [Fact]
    public void A_slab_that_splits_a_block_is_refused_with_the_alignment()
    {
        using var scope = NewDisposeScope();
        var p = Param("w", zeros(50, 48));
        using var opt = new Adam8bit([p], new Adam8bitOptions { BlockSize = 256, Min8BitSize = 0 });
        var e = Assert.Throws<ArgumentException>(() => opt.StepSlabs(p, [new GradientSlab(0, zeros(8, 48)), new GradientSlab(8, zeros(42, 48))], 1e-3));
        Assert.Contains("multiples of 16 rows", e.Message);
        Assert.Equal(0f, p.Value.abs().max().item<float>()); // the refused slab was not applied
    }
}
