using Harness.Core.Traces;
using Harness.Tests.Golden;
using Xunit.Abstractions;

namespace Harness.Tests.QGaLore;

public sealed class QGaLoreProjectorGoldenTests(ITestOutputHelper output)
{
    private readonly TraceChecker _checker = new();

    [Fact]
    public void The_projector_reproduces_the_reference_projections_and_gap_schedule()
    {
        var report = _checker.Check(GoldenPaths.CaseAManifest, TraceChecker.QGaloreProjectorKey);
        output.WriteLine(report.ToTable());

        Assert.Equal(TraceStatus.Passed, report.Status);
        Assert.Equal(1e-2, report.Tolerance);
        // 12 steps × (low, back, gap) + the SVD count.
        Assert.Equal(12 * 3 + 1, report.Errors.Count);
        Assert.All(report.Errors.Where(e => e.Parameter.StartsWith("qgalore.", StringComparison.Ordinal)),
            e => Assert.True(e.Relative && e.Error < 1e-4, $"{e.Parameter} step {e.Step}: {e.Error:e3}"));
        Assert.All(report.Errors.Where(e => !e.Parameter.StartsWith("qgalore.", StringComparison.Ordinal)),
            e => Assert.Equal(0, e.Error));
    }

    [Fact]
    public void A_wrong_gap_schedule_in_the_manifest_fails_the_check()
    {
        using var tmp = GoldenPaths.CopyCaseA(m => m["qgalore_projector"]!["qgalore_update_proj_gap_after_step"]![9] = 4,
            "gradients", "qgalore_projector");

        var report = _checker.Check(tmp.ManifestPath, TraceChecker.QGaloreProjectorKey);

        Assert.Equal(TraceStatus.Failed, report.Status);
        var first = Assert.IsType<TraceError>(report.FirstFailure);
        Assert.Equal(("update_proj_gap", 10, 2.0), (first.Parameter, first.Step, first.Error));
    }

    [Fact]
    public void Another_bit_width_is_caught_by_the_projection_comparison()
    {
        using var tmp = GoldenPaths.CopyCaseA(m => m["qgalore_projector"]!["n_bit"] = 8, "gradients", "qgalore_projector");

        var report = _checker.Check(tmp.ManifestPath, TraceChecker.QGaloreProjectorKey);

        Assert.Equal(TraceStatus.Failed, report.Status);
        Assert.StartsWith("qgalore.", report.FirstFailure!.Parameter, StringComparison.Ordinal);
    }
}
