using Harness.Optimizers.Quantization;
using static TorchSharp.torch;

namespace Harness.Tests.QGaLore;

public sealed class GroupQuantizerTests
{
    [Fact]
    public void Rtn_codes_match_a_hand_computed_case_with_half_to_even_rounding()
    {
        using var scope = NewDisposeScope();
        // min −1, max 2, 2 bits: scale (2 − (−1))/3 = 1, zero = −round(−1) = 1; round(0.5) = 0 (half to even).
        var x = tensor(new[] { -1f, 0f, 0.5f, 2f });
        var (codes, scales, zeroPoints) = (zeros(4, ScalarType.Byte), zeros(1), zeros(1, ScalarType.Byte));

        GroupQuantizer.QuantizeInto(x, groupSize: 4, bits: 2, codes, scales, zeroPoints);

        Assert.Equal(new byte[] { 0, 1, 1, 3 }, codes.data<byte>().ToArray());
        Assert.Equal(1f, scales.item<float>());
        Assert.Equal((byte)1, zeroPoints.item<byte>());
        var back = GroupQuantizer.Dequantize(codes, scales, zeroPoints, 4, [4]);
        Assert.Equal(new[] { -1f, 0f, 0f, 2f }, back.data<float>().ToArray());
    }

    [Theory]
    [InlineData(4)]
    [InlineData(8)]
    public void Rtn_of_a_random_basis_stays_in_range_and_within_half_a_step(int bits)
    {
        using var scope = NewDisposeScope();
        var gen = new TorchSharp.torch.Generator(11);
        var p = linalg.qr(randn([256, 64], generator: gen)).Q; // an orthonormal basis, as the projector stores
        var groups = 256 * 64 / 256;
        var (codes, scales, zeroPoints) = (zeros(256 * 64, ScalarType.Byte), zeros(groups), zeros(groups, ScalarType.Byte));

        GroupQuantizer.QuantizeInto(p, 256, bits, codes, scales, zeroPoints);
        var deq = GroupQuantizer.Dequantize(codes, scales, zeroPoints, 256, [256, 64]);

        var maxCode = (1 << bits) - 1;
        Assert.True(codes.max().item<byte>() <= maxCode);
        Assert.True(zeroPoints.max().item<byte>() <= maxCode);
        var err = (p - deq).abs().reshape(groups, 256).amax([1]);
        Assert.True(err.le(scales / 2 + 1e-6).all().item<bool>(), $"max error/scale {(err / scales).max().item<float>()}");
    }

    [Fact]
    public void A_short_last_group_is_quantized_as_if_alone()
    {
        using var scope = NewDisposeScope();
        var gen = new TorchSharp.torch.Generator(12);
        var x = randn([300], generator: gen);
        var (codes, scales, zeroPoints) = (zeros(300, ScalarType.Byte), zeros(2), zeros(2, ScalarType.Byte));
        var (tailCodes, tailScale, tailZero) = (zeros(44, ScalarType.Byte), zeros(1), zeros(1, ScalarType.Byte));

        GroupQuantizer.QuantizeInto(x, 256, 4, codes, scales, zeroPoints);
        GroupQuantizer.QuantizeInto(x.narrow(0, 256, 44), 256, 4, tailCodes, tailScale, tailZero);

        Assert.True(codes.narrow(0, 256, 44).equal(tailCodes).all().item<bool>());
        Assert.Equal(tailScale.item<float>(), scales[1].item<float>());
        Assert.Equal(tailZero.item<byte>(), zeroPoints[1].item<byte>());
    }

    [Fact]
    public void Stochastic_rounding_picks_floor_or_ceil_and_is_unbiased()
    {
        using var scope = NewDisposeScope();
        var gen = new TorchSharp.torch.Generator(13);
        var w = randn([256], generator: gen);
        var rtn = GroupQuantizer.FakeQuantize(w, 256, 8, null);
        var scale = ((w.max() - w.min()) / 255).item<float>();

        const int n = 10_000;
        var sum = zeros_like(w, ScalarType.Float64);
        var draws = new TorchSharp.torch.Generator(14);
        for (var i = 0; i < n; i++)
        {
            using var inner = NewDisposeScope();
            var q = GroupQuantizer.FakeQuantize(w, 256, 8, draws);
            // Every value is one of the two grid points around w: at most one step from w.
            Assert.True((q - w).abs().le(scale * 1.0001).all().item<bool>());
            sum.add_(q);
        }
        var mean = sum / n;
        var bound = 4 * scale / (2 * Math.Sqrt(n));
        // Away from the clamp: the group's extremes may round outside 0..255 and be clamped (biased by design).
        var inside = w.gt(w.min() + scale).logical_and(w.lt(w.max() - scale));
        var bias = (mean - w.to(ScalarType.Float64)).abs().masked_select(inside).max().item<double>();
        Assert.True(bias <= bound, $"bias {bias:e3} > {bound:e3}");
        // Round to nearest is within half a step, and biased for some element by more than the SR bound.
        Assert.True((rtn - w).abs().le(scale / 2 * 1.0001).all().item<bool>());
        Assert.True((rtn - w).abs().max().item<float>() > bound);
    }

    [Fact]
    public void Stochastic_rounding_is_reproducible_per_seed()
    {
        using var scope = NewDisposeScope();
        var w = randn([1000], generator: new TorchSharp.torch.Generator(15));
        var a = GroupQuantizer.FakeQuantize(w, 256, 8, new TorchSharp.torch.Generator(1));
        var b = GroupQuantizer.FakeQuantize(w, 256, 8, new TorchSharp.torch.Generator(1));
        var c = GroupQuantizer.FakeQuantize(w, 256, 8, new TorchSharp.torch.Generator(2));
        Assert.True(a.equal(b).all().item<bool>());
        Assert.False(a.equal(c).all().item<bool>());
    }
}
