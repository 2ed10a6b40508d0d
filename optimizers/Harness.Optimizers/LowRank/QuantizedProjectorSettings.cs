namespace Harness.Optimizers.LowRank;

/// <summary>
/// Settings of a <see cref="QuantizedSvdProjector"/>, named as in Q-GaLore's <c>GaLoreProjector</c>.
/// </summary>
/// <param name="Rank">Requested rank r; the projector uses r' = min(r, min(m, n)).</param>
/// <param name="UpdateProjGap">Initial refresh gap T (steps).</param>
/// <param name="Scale">α, multiplies the projected-back update.</param>
/// <param name="Quantize">Store the basis as group-quantized codes (Q-GaLore) or as float32 (GaLore).</param>
/// <param name="Bits">Code width of the basis (2..8; 4 in Q-GaLore).</param>
/// <param name="GroupSize">Consecutive elements of the flattened basis sharing a scale and zero point.</param>
/// <param name="CosThreshold">Mean queued cosine at or above which the gap grows.</param>
/// <param name="GammaProj">Factor the gap is multiplied by (then truncated to an integer).</param>
/// <param name="QueueSize">How many successive similarities the mean is taken over.</param>
public sealed record QuantizedProjectorSettings(
    int Rank, long UpdateProjGap, double Scale, bool Quantize, int Bits, int GroupSize,
    double CosThreshold, double GammaProj, int QueueSize);
