using Harness.Reports.Documents;
using Harness.Reports.Tables;

namespace Harness.Tests.Reports;

public sealed class FindingsTests
{
    [Fact]
    public void Separated_intervals_give_a_claim_with_the_intervals_stated()
    {
        var findings = Findings.Build(SummaryTable.Build(ReportFixtures.TwoOptimizers()));
        // lion 2.1 ± 2·0.1/√3 vs adamw 3.1 ± 2·0.1/√3: far apart.
        Assert.Contains("final eval loss: lion is lower than adamw (2.1000 ± 0.1155 vs 3.1000 ± 0.1155; intervals do not overlap).", findings);
        Assert.Contains(findings, f => f.StartsWith("lion keeps 0.50× the optimizer state of adamw", StringComparison.Ordinal));
        Assert.Contains(findings, f => f.StartsWith("lion: 1 of 4 run(s) did not complete (completed:3 diverged:1)", StringComparison.Ordinal));
        Assert.Contains(findings, f => f.StartsWith("throughput: lion is higher than adamw", StringComparison.Ordinal));
    }

    [Fact]
    public void Loss_spikes_and_update_ratios_beyond_adams_bound_are_findings()
    {
        var runs = ReportFixtures.TwoOptimizers().Select(r => r.Label == "lion" && r.Summary.Seed == 1
            ? r with { Summary = r.Summary with { MaxUpdateRatio = 510.4, LossSpikes = 2 } }
            : r with { Summary = r.Summary with { MaxUpdateRatio = 1.03, LossSpikes = 0 } }).ToList();
        var rows = SummaryTable.Build(runs);
        Assert.Equal((510.4, 2), (rows.Single(r => r.Label == "lion").MaxUpdateRatio, rows.Single(r => r.Label == "lion").LossSpikes));
        var findings = Findings.Build(rows);
        Assert.Contains("lion: 2 loss spike(s) over 4 run(s) (events.csv; marked ▲ on the loss charts).", findings);
        Assert.Contains(findings, f => f.StartsWith("lion: a logged step moved a parameter by 510 × lr", StringComparison.Ordinal));
        Assert.DoesNotContain(findings, f => f.StartsWith("adamw: a logged step", StringComparison.Ordinal) || f.StartsWith("adamw: 0 loss", StringComparison.Ordinal));
    }

    [Fact]
    public void Overlapping_intervals_give_no_claim()
    {
        var runs = new[]
        {
            ReportFixtures.Run("adamw", "adamw", 0, 1e-3, 4.0, 0.5, 8000, 1000), ReportFixtures.Run("adamw", "adamw", 1, 1e-3, 4.4, 0.5, 8000, 1000),
            ReportFixtures.Run("lion", "lion", 0, 1e-4, 4.1, 0.5, 4000, 1000), ReportFixtures.Run("lion", "lion", 1, 1e-4, 4.5, 0.5, 4000, 1000),
        };
        var findings = Findings.Build(SummaryTable.Build(runs));
        Assert.Contains(findings, f => f.StartsWith("final eval loss: lion vs adamw: no difference can be claimed", StringComparison.Ordinal));
    }

    [Fact]
    public void One_seed_means_no_claim_about_loss()
    {
        var runs = new[] { ReportFixtures.Run("adamw", "adamw", 0, 1e-3, 4.0, 0.5, 8000, 1000), ReportFixtures.Run("lion", "lion", 0, 1e-4, 2.0, 0.5, 4000, 1000) };
        var findings = Findings.Build(SummaryTable.Build(runs));
        Assert.Contains(findings, f => f.StartsWith("Every configuration has a single completed seed: no claim", StringComparison.Ordinal));
        Assert.DoesNotContain(findings, f => f.Contains("is lower than", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(1.0, 0.1, 1.3, 0.1, true)]
    [InlineData(1.0, 0.2, 1.3, 0.1, false)]
    [InlineData(1.3, 0.1, 1.0, 0.1, true)]
    public void Interval_separation(double m1, double e1, double m2, double e2, bool expected) =>
        Assert.Equal(expected, Findings.Separated(m1, e1, m2, e2));
}
