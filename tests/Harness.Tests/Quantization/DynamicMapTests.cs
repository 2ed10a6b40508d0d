using System.Text.Json;
using Harness.Optimizers.Quantization;
using Harness.Tests.Golden;

namespace Harness.Tests.Quantization;

public sealed class DynamicMapTests
{
    private static float[] Golden(string key)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(GoldenPaths.Directory, "bnb_dynamic_maps_0.43.1.json")));
        // The dump holds float32 values written as doubles: the cast back is exact.
        return doc.RootElement.GetProperty(key).EnumerateArray().Select(e => (float)e.GetDouble()).ToArray();
    }

    [Theory]
    [InlineData(true, "signed")]
    [InlineData(false, "unsigned")]
    public void Equals_the_bitsandbytes_0_43_1_map_bit_for_bit(bool signed, string key)
    {
        var expected = Golden(key);
        using var map = DynamicMap.Create(signed);
        var ours = map.data<float>().ToArray();

        Assert.Equal(256, expected.Length);
        var mismatches = Enumerable.Range(0, 256)
            .Where(i => BitConverter.SingleToInt32Bits(ours[i]) != BitConverter.SingleToInt32Bits(expected[i]))
            .Select(i => $"[{i}] ours {ours[i]:R} bnb {expected[i]:R}").ToList();
        Assert.True(mismatches.Count == 0, string.Join("; ", mismatches));
    }

    [Fact]
    public void Maps_have_the_documented_shape()
    {
        using var signed = DynamicMap.Create(signed: true);
        using var unsigned = DynamicMap.Create(signed: false);
        var s = signed.data<float>().ToArray();
        var u = unsigned.data<float>().ToArray();

        for (var i = 1; i < 256; i++)
        {
            Assert.True(s[i] > s[i - 1], $"signed not increasing at {i}");
            Assert.True(u[i] > u[i - 1], $"unsigned not increasing at {i}");
        }
        Assert.Equal(0f, s[127]);
        Assert.Equal(1f, s[255]);
        Assert.Equal(127, s.Count(x => x < 0));
        Assert.Equal(0f, u[0]);
        Assert.Equal(1f, u[255]);
        Assert.Equal(127, BlockwiseQuantization.ZeroIndex(signed));
        Assert.Equal(0, BlockwiseQuantization.ZeroIndex(unsigned));
    }

    [Fact]
    public void Bit_counts_that_do_not_give_a_full_map_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => DynamicMap.Create(true, maxExponentBits: 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => DynamicMap.Create(true, maxExponentBits: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => DynamicMap.Create(true, totalBits: 9));
        // 4-bit signed with 3 exponent bits: 2·(1+2+4) + 2 = 16 values, padded with zeros to 256.
        using var small = DynamicMap.Create(true, maxExponentBits: 3, totalBits: 4);
        var v = small.data<float>().ToArray();
        Assert.Equal(256, v.Length);
        Assert.Equal(16, v.Distinct().Count());
        Assert.Equal(1f, v[^1]);
    }
}
