using Harness.Core.Packs;
using Harness.Reports.Charts;
using Harness.Reports.Claims;
using Harness.Reports.Rendering;
using SkiaSharp;

namespace Harness.Tests.Packs;

public sealed class ClaimsChartTests
{
    private static ClaimRow Row(string claim, double paper, double? measured, string verdict) =>
        new() { Claim = claim, PaperValue = paper, MeasuredValue = measured, Unit = "GB", Verdict = verdict };

    [Fact]
    public void Chart_model_holds_measured_over_paper_per_claim_and_lists_the_claims_left_out()
    {
        var chart = ClaimsChart.Build("p", "reduced",
        [
            Row("m1", 10, 11, ClaimVerdicts.Reproduced), Row("m2", 0.5, 0.25, ClaimVerdicts.NotReproduced),
            Row("q1", 0, 0.01, ClaimVerdicts.Inconclusive), Row("n1", 3, null, "not run: needs a GPU"),
        ]);
        Assert.Equal(["m1", "m2"], chart.Items.Select(i => i.Claim));
        Assert.Equal([1.1, 0.5], chart.Items.Select(i => Math.Round(i.Ratio, 12)));
        Assert.Equal([11.0, 0.25], chart.Items.Select(i => i.MeasuredValue));
        Assert.False(chart.LogY);   // 1.1 / 0.5 spans far less than 50x
        Assert.Contains(chart.Notes, n => n.Contains("q1, n1", StringComparison.Ordinal));
        Assert.Equal("p: claimed vs measured (reduced)", chart.Title);
        var wide = ClaimsChart.Build("p", "smoke", [Row("a", 1e9, 1e6, ClaimVerdicts.Smoke), Row("b", 1, 2, ClaimVerdicts.Smoke)]);
        Assert.True(wide.LogY);     // 0.001 to 2
    }

    [Fact]
    public void Rendered_chart_draws_each_bar_in_its_verdict_colour()
    {
        var chart = ClaimsChart.Build("p", "reduced", [Row("m1", 10, 11, ClaimVerdicts.Reproduced), Row("m2", 0.5, 0.25, ClaimVerdicts.NotReproduced)]);
        var rendered = new ChartRenderer(new Palette([]), 640, 400).Render(chart);
        using var bmp = SKBitmap.Decode(rendered.Png);
        int Count(string hex)
        {
            var t = SKColor.Parse(hex);
            var n = 0;
            for (var y = 0; y < bmp.Height; y++)
                for (var x = 0; x < bmp.Width; x++)
                {
                    var c = bmp.GetPixel(x, y);
                    if (Math.Abs(c.Red - t.Red) + Math.Abs(c.Green - t.Green) + Math.Abs(c.Blue - t.Blue) < 40) n++;
                }
            return n;
        }
        var green = Count(ClaimsChart.Colour(ClaimVerdicts.Reproduced));
        var red = Count(ClaimsChart.Colour(ClaimVerdicts.NotReproduced));
        Assert.True(green > 500 && red > 200, $"bar pixels: reproduced {green}, not reproduced {red}");
        Assert.True(green > red, "the 1.1 bar is taller than the 0.5 bar");
        Assert.Contains("claimed vs measured", rendered.Svg, StringComparison.Ordinal);
    }
}
