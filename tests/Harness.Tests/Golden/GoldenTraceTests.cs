using Harness.Core.Traces;
using Harness.Optimizers;
using Xunit.Abstractions;

namespace Harness.Tests.Golden;

public sealed class GoldenTraceTests(ITestOutputHelper output)
{
    private readonly TraceChecker _checker = new();

    [Fact]
    public void AdamW_matches_the_torch_reference_trace()
    {
        var report = _checker.Check(GoldenPaths.CaseAManifest, "adamw");

        Assert.True(report.Passed, report.ToTable());
        Assert.Equal(TraceStatus.Passed, report.Status);
        Assert.Equal(1e-5, report.Tolerance);
        Assert.Null(report.FirstFailure);
        // 21 parameters at 6 checkpoints, each compared.
        Assert.Equal(21 * 6, report.Errors.Count);
        Assert.All(report.Errors, e => Assert.True(e.Relative, $"{e.Parameter} did not move in the reference"));
        Assert.InRange(report.Worst!.Error, 0, 1e-5);
        // Captured by xunit (shown with detailed verbosity), not printed.
        output.WriteLine(report.ToTable());
    }

    [Theory]
    [InlineData("eps", 1e-6)]
    [InlineData("beta2", 0.99)]
    public void A_wrong_hyperparameter_fails_the_check(string key, double value)
    {
        using var tmp = GoldenPaths.CopyCaseA(m => m["optimizers"]!["adamw"]!["hyperparameters"]![key] = value, "gradients", "adamw");

        var report = _checker.Check(tmp.ManifestPath, "adamw");

        Assert.Equal(TraceStatus.Failed, report.Status);
        Assert.False(report.Passed);
        var first = Assert.IsType<TraceError>(report.FirstFailure);
        Assert.True(first.Error > report.Tolerance);
        Assert.Contains("first over tolerance", report.ToTable());
    }

    [Theory]
    [InlineData("update_proj_gap", 5)]   // an off-by-one in the refresh schedule: first seen at step 5
    [InlineData("scale", 0.3)]
    public void A_real_galore_bug_is_not_explained_by_svd_signs(string key, double value)
    {
        using var tmp = GoldenPaths.CopyCaseA(m => m["optimizers"]!["galore"]!["hyperparameters"]![key] = value, "gradients", "galore");

        var report = _checker.Check(tmp.ManifestPath, "galore");

        Assert.Equal(TraceStatus.Failed, report.Status);
        var failing = report.Errors.Where(e => !e.Within(report.Tolerance)).Select(e => e.Parameter).Distinct().ToList();
        Assert.NotEmpty(failing);
        // Every failing parameter was given the sign search, and none is explained by it.
        Assert.Equal(failing.Select(p => "svd_signs/" + p), report.Diagnostics!.Select(d => d.Name));
        Assert.All(report.Diagnostics!, d => Assert.False(d.Passed, d.Detail));
        Assert.Contains("not explained by SVD signs", report.ToTable());
    }

    [Fact]
    public void CheckAll_covers_every_key_and_marks_missing_kinds_not_implemented()
    {
        var reports = _checker.CheckAll(GoldenPaths.CaseAManifest);

        Assert.Equal(["adamw", "galore", "subtrackpp", "gefen", "qgalore_projector"], reports.Select(r => r.OptimizerKey));
        foreach (var r in reports)
        {
            if (r.OptimizerKey != TraceChecker.QGaloreProjectorKey && OptimizerCatalog.Find(r.Kind) is null)
            {
                Assert.Equal(TraceStatus.NotImplemented, r.Status);
                Assert.Contains($"'{r.Kind}'", r.Message);
                Assert.Empty(r.Errors);
            }
            else
            {
                Assert.Equal(TraceStatus.Passed, r.Status);
            }
        }
        Assert.Equal(1e-3, reports.Single(r => r.OptimizerKey == "galore").Tolerance);
        Assert.Equal(1e-2, reports.Single(r => r.OptimizerKey == "qgalore_projector").Tolerance);
    }

    [Fact]
    public void An_unknown_hyperparameter_is_an_error_that_names_it()
    {
        using var tmp = GoldenPaths.CopyCaseA(m => m["optimizers"]!["adamw"]!["hyperparameters"]!["amsgrad_typo"] = true, "gradients", "adamw");

        var e = Assert.Throws<TraceFormatException>(() => _checker.Check(tmp.ManifestPath, "adamw"));

        Assert.Contains("amsgrad_typo", e.Message);
        Assert.Contains("AdamWOptions", e.Message);
        Assert.Contains(GoldenLocation.CaseAManifest, e.Message);
    }

    [Fact]
    public void A_missing_reference_file_is_a_format_error_naming_it()
    {
        using var tmp = GoldenPaths.CopyCaseA(_ => { }, "gradients");

        var e = Assert.Throws<TraceFormatException>(() => _checker.Check(tmp.ManifestPath, "adamw"));

        Assert.Contains("caseA.adamw.safetensors", e.Message);
    }

    [Fact]
    public void The_table_has_a_row_per_parameter_and_a_worst_line()
    {
        var report = _checker.Check(GoldenPaths.CaseAManifest, "adamw");

        var table = report.ToTable();

        Assert.Contains("model.layers.1.mlp.down_proj.weight", table);
        Assert.Contains("step 12", table);
        Assert.Contains("worst:", table);
        Assert.DoesNotContain("first over tolerance", table);
    }

    [Fact]
    public void The_manifest_binds_params_targets_extras_and_the_projector_case()
    {
        var m = GoldenManifest.Load(GoldenPaths.CaseAManifest);

        Assert.Equal("caseA", m.Case);
        Assert.Equal(12, m.Model.Steps);
        Assert.Equal(21, m.Params.Count);
        Assert.Equal([128L, 48L], m.Params[0].Shape);
        Assert.Equal(14, m.LowRankTargets.Count);
        Assert.Equal(768, m.Optimizers["gefen"].Extra["gefen_periods"].GetProperty("model.embed_tokens.weight").GetInt32());
        Assert.Equal("model.layers.0.mlp.down_proj.weight", m.QGaloreProjector!.Param);
        Assert.Equal(12, m.QGaloreProjector.UpdateProjGapAfterStep.Count);
    }
}
