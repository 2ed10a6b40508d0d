namespace Harness.Reports.Rendering;

/// <summary>A chart drawn as PNG bytes and as SVG text, with the caption and notes of its model.</summary>
public sealed record RenderedChart(string Name, string Title, byte[] Png, string Svg, IReadOnlyList<string> Notes);
