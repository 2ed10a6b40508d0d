using Harness.Optimizers.Quantization;
using static TorchSharp.torch;

namespace Harness.Tests.Quantization;

public sealed class BlockwiseQuantizationTests
{
    /// <summary>
    /// The worst-case rounding error of a map relative to absmax, derived from the map: half the largest
    /// gap between neighbours, or the distance from −1 to the first code (signed maps lack −1), or from the
    /// last code to 1. For the 0.43.1 maps: 0.0070312 signed, 0.0035156 unsigned.
    /// </summary>
    private static double Bound(float[] code, bool signed)
    {
        var halfGap = Enumerable.Range(0, 255).Max(i => ((double)code[i + 1] - code[i]) / 2);
        var ends = Math.Max(1.0 - code[255], signed ? code[0] + 1.0 : code[0]);
        return Math.Max(halfGap, ends);
    }

    // float32 rounding of x·(1/absmax) and of code·absmax: a few ulps of absmax.
    private const double Slack = 1e-6;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Nearest_code_equals_the_kernels_binary_search_including_ties(bool signed)
    {
        using var scope = NewDisposeScope();
        var code = DynamicMap.Create(signed);
        var c = code.data<float>().ToArray();
        var probes = new List<float>();
        var rng = new Random(11);
        for (var i = 0; i < 20000; i++) probes.Add((float)(rng.NextDouble() * (signed ? 2.2 : 1.1) - (signed ? 1.1 : 0.05)));
        for (var i = 0; i < 255; i++)
        {
            var mid = (c[i] + c[i + 1]) * 0.5f;
            probes.AddRange([mid, MathF.BitIncrement(mid), MathF.BitDecrement(mid), c[i]]);
        }
        probes.AddRange([c[255], 1f, -1f, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, 1e-9f, -1e-9f]);

        var ours = BlockwiseQuantization.NearestCode(tensor(probes.ToArray()), code).data<long>().ToArray();
        var wrong = probes.Select((x, i) => (x, i)).Where(t => ours[t.i] != KernelReference.Search(c, t.x, signed))
            .Select(t => $"{t.x:R}: ours {ours[t.i]} kernel {KernelReference.Search(c, t.x, signed)}").Take(5).ToList();
        Assert.True(wrong.Count == 0, string.Join("; ", wrong));
        // Ties go to the even index of the pair; NaN to index 0, as the search does.
        Assert.Equal(2, BlockwiseQuantization.NearestCode(tensor(new[] { (c[1] + c[2]) * 0.5f }), code).item<long>());
        Assert.Equal(2, BlockwiseQuantization.NearestCode(tensor(new[] { (c[2] + c[3]) * 0.5f }), code).item<long>());
        Assert.Equal(0, BlockwiseQuantization.NearestCode(tensor(new[] { float.NaN }), code).item<long>());
    }

    [Theory]
    [InlineData(true, 2048)]
    [InlineData(true, 256)]
    [InlineData(false, 2048)]
    [InlineData(false, 64)]
    public void Random_inputs_stay_within_the_map_bound_and_bnb_mean_error_bounds(bool signed, int blockSize)
    {
        using var scope = NewDisposeScope();
        var gen = new TorchSharp.torch.Generator(21);
        var code = DynamicMap.Create(signed);
        var bound = Bound(code.data<float>().ToArray(), signed);
        // N(0,1) for the signed map (bnb's test_dynamic_blockwise_quantization), U[0,1) for the unsigned one.
        var x = signed ? randn([1024, 1024], generator: gen) : rand([1024, 1024], generator: gen);

        var (codes, absmax) = BlockwiseQuantization.Quantize(x, code, blockSize);
        var deq = BlockwiseQuantization.Dequantize(codes, absmax, code, blockSize);

        Assert.Equal(x.shape, codes.shape);
        Assert.Equal(ScalarType.Byte, codes.dtype);
        Assert.Equal(1024L * 1024 / blockSize, absmax.numel());
        var direct = x.reshape(-1, blockSize).abs().amax([1]);
        Assert.True(absmax.eq(direct).all().item<bool>(), $"absmax differs by up to {(absmax - direct).abs().max().item<float>()}");
        var err = (x - deq).abs().reshape(-1, blockSize);
        var ratio = (err / absmax.unsqueeze(1)).max().item<float>();
        Assert.InRange(ratio, 0, bound + Slack);
        var meanAbs = err.mean().item<float>();
        var meanRel = ((x - deq).abs() / (x.abs() + 1e-8)).mean().item<float>();
        Assert.InRange(meanAbs, 0, signed ? 0.011 : 0.0023);
        Assert.InRange(meanRel, 0, signed ? 0.018 : 0.012);
    }

    [Fact]
    public void Adversarial_blocks_zeros_huge_value_short_last_block_and_non_finite()
    {
        using var scope = NewDisposeScope();
        const int b = 256;
        var code = DynamicMap.Create(signed: true);
        var c = code.data<float>().ToArray();
        var bound = Bound(c, signed: true);
        var gen = new TorchSharp.torch.Generator(5);
        // Block 0: zeros. Block 1: N(0,1) with one 1e30. Block 2: N(0,1) with +Inf, −Inf, NaN. Block 3: 37 elements.
        var x = randn([3 * b + 37], generator: gen);
        x.narrow(0, 0, b).zero_();
        x[b + 17] = tensor(1e30f);
        x[2 * b + 3] = tensor(float.PositiveInfinity);
        x[2 * b + 4] = tensor(float.NegativeInfinity);
        x[2 * b + 5] = tensor(float.NaN);

        var (codes, absmax) = BlockwiseQuantization.Quantize(x, code, b);
        var deq = BlockwiseQuantization.Dequantize(codes, absmax, code, b);
        var a = absmax.data<float>().ToArray();
        var d = deq.data<float>().ToArray();
        var xs = x.data<float>().ToArray();

        Assert.Equal(4, a.Length);
        Assert.Equal(0f, a[0]);
        Assert.All(codes.narrow(0, 0, b).data<byte>().ToArray(), q => Assert.Equal(127, q));
        Assert.Equal(1e30f, a[1]);
        Assert.Equal(1e30f, d[b + 17]);
        var finiteMax2 = xs.Skip(2 * b).Take(b).Where(float.IsFinite).Max(MathF.Abs);
        Assert.Equal(finiteMax2, a[2]);
        Assert.Equal(xs.Skip(3 * b).Max(MathF.Abs), a[3]);
        Assert.Equal(a[2], d[2 * b + 3]);
        Assert.Equal(c[0] * a[2], d[2 * b + 4]);
        Assert.Equal(0f, d[2 * b + 5]);
        for (var i = 0; i < xs.Length; i++)
        {
            if (!float.IsFinite(xs[i])) continue;
            Assert.True(float.IsFinite(d[i]), $"element {i} dequantized to {d[i]}");
            Assert.True(Math.Abs(xs[i] - d[i]) <= (bound + Slack) * a[i / b], $"element {i}: |{xs[i]} - {d[i]}| > {bound}·{a[i / b]}");
        }
    }

    [Fact]
    public void Quantize_with_absmax_applies_the_sign_fix_only_when_asked()
    {
        using var scope = NewDisposeScope();
        var code = DynamicMap.Create(signed: true);
        var x = tensor(new[] { 1f, -1e-9f, 1e-9f, -0.5f });
        var absmax = tensor(new[] { 1f });

        var plain = BlockwiseQuantization.QuantizeWithAbsmax(x, absmax, code, 64).data<byte>().ToArray();
        var fixedSign = BlockwiseQuantization.QuantizeWithAbsmax(x, absmax, code, 64, keepSign: true).data<byte>().ToArray();

        Assert.Equal(new byte[] { 255, 127, 127, plain[3] }, plain);
        Assert.Equal(new byte[] { 255, 126, 127, plain[3] }, fixedSign);
        Assert.Throws<ArgumentException>(() => BlockwiseQuantization.QuantizeWithAbsmax(x, tensor(new[] { 1f, 1f }), code, 64));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(32)]
    [InlineData(100)]
    [InlineData(8192)]
    public void Block_sizes_the_reference_does_not_allow_are_refused(int blockSize)
    {
        using var scope = NewDisposeScope();
        var code = DynamicMap.Create(signed: true);
        Assert.False(BlockwiseQuantization.IsValidBlockSize(blockSize));
        Assert.Throws<ArgumentOutOfRangeException>(() => BlockwiseQuantization.Quantize(ones(10), code, blockSize));
        Assert.Throws<ArgumentException>(() => BlockwiseQuantization.Quantize(ones(10), ones(255), 64));
    }
}
