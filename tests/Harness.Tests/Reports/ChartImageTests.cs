using Harness.Reports.Charts;
using Harness.Reports.Rendering;
using Harness.Reports.Tables;
using SkiaSharp;

namespace Harness.Tests.Reports;

public sealed class ChartImageTests
{
    private static readonly Palette Colors = new(["adamw", "lion"]);

    /// <summary>Pixels within a small distance of a colour.</summary>
    private static int Count(SKBitmap bmp, Func<SKColor, bool> match, int top = 0, int bottom = int.MaxValue)
    {
        var n = 0;
        for (var y = top; y < Math.Min(bottom, bmp.Height); y++)
            for (var x = 0; x < bmp.Width; x++)
                if (match(bmp.GetPixel(x, y))) n++;
        return n;
    }

    private static bool Near(SKColor c, string hex, int tol = 40)
    {
        var t = SKColor.Parse(hex);
        return Math.Abs(c.Red - t.Red) + Math.Abs(c.Green - t.Green) + Math.Abs(c.Blue - t.Blue) < tol;
    }

    private static bool Dark(SKColor c) => c.Red + c.Green + c.Blue < 200;

    [Fact]
    public void Loss_chart_png_has_the_requested_size_lines_in_palette_colours_and_text()
    {
        var chart = new ChartRenderer(Colors, 800, 500).Render(LossCurves.Build(ReportFixtures.TwoOptimizers(), LossAxis.Step, eval: true));
        using var bmp = SKBitmap.Decode(chart.Png);
        Assert.Equal(800, bmp.Width);
        Assert.Equal(500, bmp.Height);
        Assert.True(Count(bmp, c => Near(c, Colors.Of("adamw"))) > 200, "AdamW line missing");
        Assert.True(Count(bmp, c => Near(c, Colors.Of("lion"))) > 200, "Lion line missing");
        // The title is drawn: dark glyph pixels in the top band (boxes or missing fonts would give none or a few solid blocks).
        var titleInk = Count(bmp, Dark, 0, 35);
        Assert.InRange(titleInk, 150, 800 * 35 / 3);
        Assert.Contains("<svg", chart.Svg, StringComparison.Ordinal);
        Assert.Contains("Eval loss vs step", chart.Svg, StringComparison.Ordinal);
    }

    [Fact]
    public void Bar_and_pareto_pngs_are_not_blank()
    {
        var rows = SummaryTable.Build(ReportFixtures.TwoOptimizers());
        var renderer = new ChartRenderer(Colors, 640, 400);
        foreach (var png in new[] { renderer.Render(MemoryBars.Build(rows)).Png, renderer.Render(SpeedBars.Throughput(rows)).Png, renderer.Render(ParetoFront.Build(rows)).Png })
        {
            using var bmp = SKBitmap.Decode(png);
            Assert.Equal((640, 400), (bmp.Width, bmp.Height));
            var white = Count(bmp, c => c.Red > 250 && c.Green > 250 && c.Blue > 250);
            Assert.InRange(white, 640 * 400 / 4, 640 * 400 * 98 / 100); // mostly background, but ink present
            Assert.True(Count(bmp, c => Near(c, Colors.Of("lion"), 60)) > 50, "lion colour missing");
        }
    }
}
