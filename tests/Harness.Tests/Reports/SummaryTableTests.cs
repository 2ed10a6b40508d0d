using Harness.Results;
using Harness.Reports.Data;
using Harness.Reports.Documents;
using Harness.Reports.Tables;

namespace Harness.Tests.Reports;

public sealed class SummaryTableTests
{
    private static SummaryRow Run(string label, string optimizer, int seed, double? evalLoss, long? state, double? tps, string status = "completed") => new()
    {
        RunId = $"{label}-{seed}", Experiment = "e", Optimizer = optimizer, Label = label, Seed = seed, Status = status,
        FinalEvalLoss = evalLoss, StateBytes = state, TokensPerS = tps, Implementation = "tensor-ops", Device = "cpu",
    };

    [Fact]
    public void Aggregates_over_seeds_and_divides_by_the_best_adamw()
    {
        var rows = SummaryTable.Build(
        [
            Run("adamw lr=1e-3", "adamw", 0, 3.0, 800, 1000),
            Run("adamw lr=1e-3", "adamw", 1, 3.2, 800, 1200),
            Run("adamw lr=1e-2", "adamw", 0, 4.0, 800, 900),
            Run("lion", "lion", 0, 3.5, 400, 1650),
            Run("lion", "lion", 1, null, null, null, status: "diverged"),
        ]);
        Assert.Equal(["adamw lr=1e-3", "adamw lr=1e-2", "lion"], rows.Select(r => r.Label));
        var best = rows[0];
        Assert.Equal(3.1, best.FinalEvalLossMean!.Value, 12);
        Assert.Equal(Math.Sqrt(0.02), best.FinalEvalLossStd!.Value, 12);
        Assert.Equal(1.0, best.StateBytesVsAdamw);
        var lion = rows[2];
        Assert.Equal(2, lion.Runs);
        Assert.Equal(1, lion.Completed);
        Assert.Equal("completed:1 diverged:1", lion.Statuses);
        Assert.Equal(0.5, lion.StateBytesVsAdamw);
        Assert.Equal(1.5, lion.TokensPerSVsAdamw!.Value, 12);
        Assert.Null(lion.FinalEvalLossStd); // one completed seed: no spread claimed
    }

    [Fact]
    public void Without_an_adamw_run_no_ratio_is_invented()
    {
        var rows = SummaryTable.Build([Run("lion", "lion", 0, 3.5, 400, 1650)]);
        Assert.Null(rows[0].StateBytesVsAdamw);
        Assert.Null(rows[0].TokensPerSVsAdamw);
    }

    [Theory]
    [InlineData(512.0, "512 B")]
    [InlineData(1536.0, "1.50 KiB")]
    [InlineData(3.0 * 1024 * 1024 * 1024, "3.00 GiB")]
    public void Bytes_are_shown_in_binary_units(double bytes, string expected) => Assert.Equal(expected, ReportFormat.Bytes(bytes));

    [Fact]
    public void Markdown_table_has_one_row_per_configuration_with_mean_and_spread()
    {
        var runs = new[] { ReportFixtures.Run("adamw", "adamw", 0, 1e-3, 4.0, 0.5, 800, 1000), ReportFixtures.Run("adamw", "adamw", 1, 1e-3, 4.2, 0.5, 800, 1200) };
        var content = new ReportContent(new ResultSet("e", runs), SummaryTable.Build(runs), [], []);
        var md = MarkdownReport.Build(content);
        var tableRows = md.Split('\n').Where(l => l.StartsWith("| adamw", StringComparison.Ordinal)).ToList();
        var row = tableRows[0];
        Assert.StartsWith("| adamw (baseline) | 2/2 | 0.001 | 3.1000 ± 0.1414 | ×1.00 |", row, StringComparison.Ordinal);
        Assert.Contains("| 1,100 ± 141 | ×1.00 |", row, StringComparison.Ordinal);
    }
}
