using Harness.Optimizers.Quantization;
using static TorchSharp.torch;

namespace Harness.Tests.Quantization;

/// <summary><see cref="CodeSearch"/>'s table look-up against the kernel's binary search (through NearestCode, tested against it).</summary>
public sealed class CodeSearchTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Table_search_gives_the_binary_searchs_index_for_every_kind_of_float(bool signed)
    {
        using var scope = NewDisposeScope();
        var code = DynamicMap.Create(signed);
        var c = code.data<float>().ToArray();
        using var search = new CodeSearch(c, CPU);
        var probes = new List<float> { 0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, float.Epsilon, -float.Epsilon, 1e30f, -1e30f, 2f, -2f, 1f, -1f };
        for (var k = 0; k < 255; k++)
        {
            // Every boundary and the 4 floats on each side of it: ties and the odd boundaries' one-float adjustment.
            var x = (c[k] + c[k + 1]) * 0.5f;
            for (var j = 0; j < 4; j++) x = MathF.BitDecrement(x);
            for (var j = 0; j < 9; j++, x = MathF.BitIncrement(x)) probes.Add(x);
        }
        foreach (var v in c) probes.AddRange([v, MathF.BitIncrement(v), MathF.BitDecrement(v), -v]);
        var rng = new Random(17);
        for (var i = 0; i < 100_000; i++) probes.Add(BitConverter.Int32BitsToSingle(rng.Next() | rng.Next(2) << 31)); // any bit pattern: denormals, NaNs, huge
        for (var i = 0; i < 100_000; i++) probes.Add((float)((rng.NextDouble() * 2 - 1) * Math.Pow(10, -rng.NextDouble() * 9))); // the map's decades
        var x32 = tensor(probes.ToArray());

        var expected = BlockwiseQuantization.NearestCode(x32, code).data<long>().ToArray();
        var found = search.Find(x32).data<long>().ToArray();
        var wrong = Enumerable.Range(0, probes.Count).Where(i => found[i] != expected[i])
            .Select(i => $"{probes[i]:R}: table {found[i]} search {expected[i]}").Take(5).ToList();
        Assert.True(wrong.Count == 0, string.Join("; ", wrong));
        Assert.Equal(0, found[4]); // NaN
        // A bucket (exponent, 1/128 of the mantissa) holds at most 2 boundaries of these maps: 1–2 comparisons an element.
        Assert.InRange(search.Steps, 1, 2);
    }

    [Fact]
    public void Quantizing_with_the_table_gives_the_same_codes_as_with_the_search()
    {
        using var scope = NewDisposeScope();
        using var maps = new Adam8bitCodebooks(CPU);
        var gen = new Generator(4);
        var x = randn([5000], generator: gen) * 1e-3;
        x[7] = tensor(-1e-30f); // a tiny negative value: rounds to +0, moved one index by the sign fix
        var absmax = BlockwiseQuantization.BlockAbsmax(x, 256);
        foreach (var (code, search, keepSign) in new[] { (maps.Signed, maps.SignedSearch, true), (maps.Signed, maps.SignedSearch, false), (maps.Unsigned, maps.UnsignedSearch, false) })
        {
            var input = code.Equals(maps.Unsigned) ? x.abs() : x;
            var a = BlockwiseQuantization.QuantizeWithAbsmax(input, absmax, code, 256, keepSign);
            var b = BlockwiseQuantization.QuantizeWithAbsmax(input, absmax, code, 256, keepSign, search);
            Assert.Equal(a.data<byte>().ToArray(), b.data<byte>().ToArray());
        }
    }

    [Fact]
    public void A_code_book_that_does_not_increase_is_refused()
    {
        var c = DynamicMap.Create(signed: true).data<float>().ToArray();
        (c[10], c[11]) = (c[11], c[10]);
        Assert.Throws<ArgumentException>(() => new CodeSearch(c, CPU));
        Assert.Throws<ArgumentException>(() => new CodeSearch(new float[255], CPU));
    }
}
