namespace Harness.Reports.Rendering;

/// <summary>
/// The font every chart uses: DejaVu Sans, shipped next to the assembly (SkiaSharp's NoDependencies native
/// build has no fontconfig, so on Linux it finds no system font and text would not render). ScottPlot keeps
/// its font resolvers in a process-wide list; registering the two faces once, under a lock, is the only way in.
/// </summary>
public static class ChartFonts
{
    public const string Family = "DejaVu Sans";
    private static readonly Lazy<string> Registered = new(Register, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>Registers the shipped faces (once per process) and returns the family name to use.</summary>
    public static string Ensure() => Registered.Value;

    private static string Register()
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "Fonts");
        var regular = Path.Combine(dir, "DejaVuSans.ttf");
        var bold = Path.Combine(dir, "DejaVuSans-Bold.ttf");
        if (!File.Exists(regular) || !File.Exists(bold))
            throw new FileNotFoundException($"the chart font is missing from {dir} (it ships with Harness.Reports)", regular);
        ScottPlot.Fonts.AddFontFile(Family, regular, bold: false, italic: false);
        ScottPlot.Fonts.AddFontFile(Family, bold, bold: true, italic: false);
        return Family;
    }
}
