namespace Harness.Experiments.Models;

/// <summary>
/// Llama-3.1's RoPE frequency rescaling (HF <c>rope_scaling</c> with <c>rope_type: llama3</c>): frequencies whose
/// wavelength exceeds <c>OriginalContext / LowFreqFactor</c> positions are divided by <see cref="Factor"/>, those
/// shorter than <c>OriginalContext / HighFreqFactor</c> are kept, and those between are interpolated linearly in
/// <c>OriginalContext / wavelength</c>. It changes the slow channels at every position, not only past the original
/// context, so a model with Llama-3.1's shape uses it at any sequence length.
/// </summary>
public sealed record RopeScaling(double Factor, double LowFreqFactor, double HighFreqFactor, double OriginalContext)
{
    /// <summary>The values of meta-llama/Llama-3.1-8B's config.json: factor 8, low 1, high 4, original context 8192.</summary>
    public static RopeScaling Llama31 { get; } = new(8, 1, 4, 8192);

    /// <summary>The rescaled inverse frequency (radians per position) of <paramref name="inverseFrequency"/>.</summary>
    public double Scale(double inverseFrequency)
    {
        var wavelength = 2 * Math.PI / inverseFrequency;
        if (wavelength < OriginalContext / HighFreqFactor) return inverseFrequency;
        if (wavelength > OriginalContext / LowFreqFactor) return inverseFrequency / Factor;
        var smooth = (OriginalContext / wavelength - LowFreqFactor) / (HighFreqFactor - LowFreqFactor);
        return (1 - smooth) * inverseFrequency / Factor + smooth * inverseFrequency;
    }
}
