namespace Harness.Optimizers.QGaLore;

/// <summary>How Q-GaLore stores its Adam moments (<c>moments:</c>).</summary>
public enum QGaLoreMoments
{
    /// <summary>bitsandbytes 0.43.1 8-bit blockwise codes + absmax (fp32 below <c>min_8bit_size</c>), as the reference's AdamW8bit.</summary>
    Int8,
    /// <summary>Plain moments in the parameter dtype (transformers-style Adam step).</summary>
    Fp32,
}
