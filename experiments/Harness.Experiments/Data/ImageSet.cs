namespace Harness.Experiments.Data;

/// <summary>
/// Labelled images as bytes: <see cref="Pixels"/> is [Count, Channels, Height, Width] (0..255), labels
/// are 0..Classes-1. Workloads scale them to floats.
/// </summary>
public sealed record ImageSet(byte[] Pixels, byte[] Labels, int Channels, int Height, int Width, int Classes)
{
    public int Count => Labels.Length;

    public int PixelsPerImage => Channels * Height * Width;
}
