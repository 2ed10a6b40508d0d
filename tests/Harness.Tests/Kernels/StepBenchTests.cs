using Harness.Core.Bench;
using Harness.Reports.Charts;
using Harness.Results;
using Harness.Tests.Reliability;
using Xunit;

namespace Harness.Tests.Kernels;

public sealed class StepBenchTests
{
    [Fact]
    public void Parameter_sets_have_the_appendix_A_parameter_counts()
    {
        // specs/measurement.md, Appendix A: GPT-2 124,439,808 and LLaMA-like 1,498,482,688 parameters.
        Assert.Equal(124_439_808L, ParameterSets.Gpt2Small.Count);
        Assert.Equal(1_498_482_688L, ParameterSets.Llama1_5B.Count);
        Assert.Equal(148, ParameterSets.Gpt2Small.Tensors.Count);
        Assert.Equal(147, ParameterSets.Llama1_5B.Tensors.Count);
        Assert.Same(ParameterSets.Llama1_5B, ParameterSets.Find("LLAMA-1.5B"));
        Assert.Null(ParameterSets.Find("gpt3"));
    }

    private static StepBenchResult Row(string impl, double ms) => new()
    {
        Gpu = "NVIDIA H100 80GB HBM3", ParameterSet = "gpt2-124m", Parameters = 124_439_808, Optimizer = "adamw", Implementation = impl,
        Dtype = "float32", Steps = 20, MedianMs = ms, MinMs = ms * 0.9, StateBytes = 995_518_464, TransientBytes = impl == "tensor-ops" ? 4096 : null,
        BytesMoved = 28L * 124_439_808, BandwidthBytesPerS = 3.02e12,
    };

    [Fact]
    public void The_floor_is_bytes_moved_over_the_copy_bandwidth()
    {
        var r = Row("cuda-fused", 1.5);
        Assert.Equal(28.0 * 124_439_808 / 3.02e12 * 1e3, r.FloorMs, 12);
        Assert.Equal(1.5 / r.FloorMs, r.RatioToFloor, 12);
        Assert.InRange(r.FloorMs, 1.15, 1.16); // Appendix A: 1.15 ms for fp32 AdamW at 124M and 3.02 TB/s
    }

    [Fact]
    public void The_csv_round_trips_every_column()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"sb-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            var path = Path.Combine(dir, "step-bench.csv");
            var rows = new[] { Row("cuda-fused", 1.25), Row("tensor-ops", 15.5) with { Source = "harness, \"quoted\"" } };
            StepBenchCsv.Write(path, rows);
            Assert.Equal(string.Join(",", StepBenchCsv.Columns), File.ReadLines(path).First());
            var back = StepBenchCsv.Read(path);
            Assert.Equal(rows, back);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void The_committed_gallery_csv_reads_and_writes_back_the_same_columns_and_values()
    {
        // The gallery CSV was written by the earlier hand-written writer (rows ending in \r\n, as Python's csv module writes
        // them for --compare); CsvFiles reads it and writes the same header and the same values (rows ending in \n).
        var gallery = Path.Combine(TestPaths.RepoRoot(), "reports", "gallery", "step-bench-h100-2026-11-23", "step-bench.csv");
        var rows = StepBenchCsv.Read(gallery);
        Assert.Equal(15, rows.Count);
        var copy = Path.Combine(Path.GetTempPath(), $"sb-{Guid.NewGuid():N}.csv");
        try
        {
            StepBenchCsv.Write(copy, rows);
            Assert.Equal(File.ReadAllText(gallery).Replace("\r\n", "\n", StringComparison.Ordinal), File.ReadAllText(copy));
            Assert.Equal(rows, StepBenchCsv.Read(copy));
        }
        finally
        {
            File.Delete(copy);
        }
    }

    [Fact]
    public void The_chart_has_one_bar_per_row_at_its_ratio_with_the_implementation_in_the_label()
    {
        var rows = new[] { Row("cuda-fused", 1.25), Row("pytorch-fused", 1.68) };
        var chart = StepBenchChart.Chart(rows);
        Assert.Equal(2, chart.Bars.Count);
        Assert.Equal(rows[1].RatioToFloor, chart.Bars[1].Total, 12);
        Assert.Contains("[pytorch-fused]", chart.Bars[1].Label);
        Assert.Equal("1.68 ms", chart.Bars[1].Annotation);
    }

    [Fact]
    public void The_chart_groups_bars_by_size_and_optimizer_ours_first_on_a_log_axis()
    {
        StepBenchResult At(StepBenchResult r, string set, long parameters, string optimizer) => r with { ParameterSet = set, Parameters = parameters, Optimizer = optimizer };
        var rows = new[]
        {
            At(Row("tensor-ops", 116.5), "gpt2-124m", 124_439_808, "adam8bit"),
            At(Row("cuda-fused", 14.4), "llama-1.5b", 1_498_482_688, "adamw"),
            At(Row("pytorch-fused", 1.34), "gpt2-124m", 124_439_808, "adamw"),
            At(Row("cuda-fused", 0.81), "gpt2-124m", 124_439_808, "adam8bit"),
            At(Row("cuda-fused", 1.20), "gpt2-124m", 124_439_808, "adamw"),
        };
        var chart = StepBenchChart.Chart(rows);
        Assert.True(chart.LogY);
        Assert.Equal(["0.81 ms", "116.50 ms", "1.20 ms", "1.34 ms", "14.40 ms"], chart.Bars.Select(b => b.Annotation).ToArray());
        // A ratio of 0 (no floor measured) cannot go on a log axis: the chart falls back to a linear one.
        Assert.False(StepBenchChart.Chart([.. rows, Row("cuda-fused", 1.0) with { BandwidthBytesPerS = 0 }]).LogY);
    }

    [Fact]
    public void Chart_from_renders_a_saved_csv_without_cuda_and_names_a_bad_file()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"sb-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            var csv = Path.Combine(dir, "step-bench.csv");
            StepBenchCsv.Write(csv, [Row("cuda-fused", 1.25), Row("pytorch-fused", 1.68)]);
            var ok = HarnessProcess.Run(dir, TimeSpan.FromMinutes(2), "bench-step", "--chart-from", csv, "--out", Path.Combine(dir, "chart"));
            Assert.True(ok.ExitCode == 0, ok.Stderr);
            Assert.Contains("chart of 2 row(s)", ok.Stdout);
            var png = File.ReadAllBytes(Path.Combine(dir, "chart", "step_bench.png"));
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
            Assert.Contains("1.68 ms", File.ReadAllText(Path.Combine(dir, "chart", "step_bench.svg")));

            var bad = Path.Combine(dir, "bad.csv");
            File.WriteAllText(bad, "gpu,parameter_set\nx,y\n");
            var err = HarnessProcess.Run(dir, TimeSpan.FromMinutes(2), "bench-step", "--chart-from", bad);
            Assert.Equal(2, err.ExitCode);
            var line = Assert.Single(err.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("bad.csv", line);
            Assert.DoesNotContain("   at ", err.Stderr);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
