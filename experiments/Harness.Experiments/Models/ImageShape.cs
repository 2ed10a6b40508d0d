namespace Harness.Experiments.Models;

/// <summary>Input images [channels, height, width] and the number of classes of a classifier.</summary>
public sealed record ImageShape(int Channels, int Height, int Width, int Classes)
{
    public int Pixels => Channels * Height * Width;
}
