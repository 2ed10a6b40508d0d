namespace Harness.Optimizers.Quantization;

/// <summary>How a <see cref="QuantizedWeight"/> stores a weight: code width and elements per scale/zero group.</summary>
public sealed record QuantizedWeightFormat(int GroupSize, int Bits)
{
    /// <summary>Q-GaLore's INT8 weights: 8-bit codes, groups of 256 (<c>--weight_bits 8 --weight_group_size 256</c>).</summary>
    public static QuantizedWeightFormat Int8Group256 { get; } = new(256, 8);
}
