using static TorchSharp.torch;

namespace Harness.Optimizers.Quantization;

/// <summary>
/// The dynamic (tree) quantization code book of 8-bit optimizers: Dettmers et al., "8-bit Optimizers via
/// Block-wise Quantization", ICLR 2022, arXiv 2110.02861, Appendix; reference code bitsandbytes 0.43.1,
/// <c>bitsandbytes/functional.py</c> <c>create_dynamic_map</c> (L335-387 at tag 0.43.1).
/// </summary>
/// <remarks>
/// For each exponent i = 0 … maxExponentBits−1 the map takes the midpoints of
/// <c>linspace(0.1, 1, k)</c> (k = 2^i + 1 signed, 2^(i+1) + 1 unsigned, in float32) scaled by
/// 10^(i − maxExponentBits + 1), plus their negatives when signed; then 0 and 1, padding zeros up to 256
/// entries, sorted ascending. The arithmetic is done with the same libtorch ops as the reference
/// (float32 linspace, float32 midpoints, float32 tensor × double scalar), which reproduces the 0.43.1
/// tables bit for bit (checked against the golden dump). Version quirk kept on purpose: 0.43.1 reserves one
/// sign bit for unsigned maps too (<c>non_sign_bits = total_bits − 1</c> either way).
/// Signed (8 bit): 127 negatives, 0 at index 127, 127 positives, 1 at index 255. Unsigned: 0 at index 0, 1 at 255.
/// </remarks>
public static class DynamicMap
{
    /// <summary>Entries of every map (the reference pads smaller maps with zeros to this length).</summary>
    public const int Size = 256;

    /// <summary>
    /// The 256-entry float32 code book, sorted ascending, on the CPU. The caller owns the tensor.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">When the bit counts do not give exactly 2^totalBits values.</exception>
    public static Tensor Create(bool signed, int maxExponentBits = 7, int totalBits = 8)
    {
        if (totalBits is < 2 or > 8)
            throw new ArgumentOutOfRangeException(nameof(totalBits), totalBits, "must be in [2, 8]");
        var nonSignBits = totalBits - 1; // 0.43.1: `total_bits - (1 if signed else 1)`
        if (maxExponentBits < 1 || maxExponentBits > nonSignBits)
            throw new ArgumentOutOfRangeException(nameof(maxExponentBits), maxExponentBits, $"must be in [1, {nonSignBits}]");

        using var scope = NewDisposeScope();
        var values = new List<float>(Size);
        void AddScaled(int fractionItems, int i)
        {
            var boundaries = linspace(0.1, 1.0, fractionItems, dtype: ScalarType.Float32);
            var means = (boundaries.narrow(0, 0, fractionItems - 1) + boundaries.narrow(0, 1, fractionItems - 1)) / 2.0;
            var scale = Math.Pow(10, -(maxExponentBits - 1) + i);
            values.AddRange((means * scale).data<float>());
            if (signed) values.AddRange((means * -scale).data<float>());
        }

        var additionalItems = (1 << (nonSignBits - maxExponentBits)) - 1;
        for (var i = 0; i < maxExponentBits; i++)
            AddScaled(signed ? (1 << (i + nonSignBits - maxExponentBits)) + 1 : (1 << (i + nonSignBits - maxExponentBits + 1)) + 1, i);
        if (additionalItems > 0) AddScaled(additionalItems + 1, maxExponentBits - 1);
        values.Add(0f);
        values.Add(1f);

        if (values.Count != 1 << totalBits)
            throw new ArgumentOutOfRangeException(nameof(maxExponentBits),
                $"signed={signed}, max_exponent_bits={maxExponentBits}, total_bits={totalBits} give {values.Count} values, not {1 << totalBits}");
        while (values.Count < Size) values.Add(0f);
        values.Sort();
        return tensor(values.ToArray()).MoveToOuterDisposeScope();
    }
}
