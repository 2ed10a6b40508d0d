using System.Text.RegularExpressions;
using Harness.Results;
using Harness.Reports;
using Harness.Reports.Tables;
using SkiaSharp;

namespace Harness.Tests.Reports;

public sealed class ReportBuilderTests
{
    [Fact]
    public void A_results_folder_with_a_diverged_run_still_renders_and_marks_it()
    {
        var dir = ReportFixtures.WriteExperiment(ReportFixtures.TwoOptimizers());
        try
        {
            var output = ReportBuilder.Build(dir);
            var html = File.ReadAllText(Path.Combine(output.Directory, "report.html"));
            var md = File.ReadAllText(Path.Combine(output.Directory, "report.md"));
            Assert.Contains("Runs that did not complete", html, StringComparison.Ordinal);
            Assert.Matches(new Regex(@"<tr class=""warn""><td>lion</td><td>3</td><td>diverged</td>"), html);
            Assert.Contains("| lion | 3/4 ⚠ completed:3 diverged:1 |", md, StringComparison.Ordinal);
            // Self-contained: every image is embedded.
            var sources = Regex.Matches(html, @"src=""([^""]*)""").Select(m => m.Groups[1].Value).ToList();
            Assert.True(sources.Count >= 8, $"{sources.Count} charts embedded");
            Assert.All(sources, s => Assert.StartsWith("data:image/png;base64,", s, StringComparison.Ordinal));
            Assert.Contains("abc1234", html, StringComparison.Ordinal); // commit from the manifests
            foreach (var png in output.Files.Where(f => f.EndsWith(".png", StringComparison.Ordinal)))
            {
                using var bmp = SKBitmap.Decode(png);
                Assert.Equal((900, 540), (bmp.Width, bmp.Height));
            }
            var table = CsvFiles.ReadAll<ReportRow>(Path.Combine(output.Directory, "summary.csv"));
            Assert.Equal(["adamw", "lion"], table.Select(r => r.Label));
            Assert.Equal(0.5, table[1].StateBytesVsAdamw);
            Assert.Equal(1e-4, table[1].LearningRate);
            Assert.True(table[0].Baseline);
        }
        finally { Directory.Delete(Path.GetDirectoryName(dir)!, recursive: true); }
    }
}
