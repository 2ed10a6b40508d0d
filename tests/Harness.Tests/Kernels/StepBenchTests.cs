using Harness.Core.Bench;
using Harness.Core.Devices;
using Harness.Optimizers;
using Harness.Optimizers.Kernels;
using Harness.Optimizers.LowRank;
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
        // GaLore's llama_60m and llama_1b with 32,000 tokens, by hand: 2·V·d + L·(4d² + 3·d·ffn + 2d) + d.
        Assert.Equal(2L * 32000 * 512 + 8L * (4 * 512 * 512 + 3 * 512 * 1376 + 2 * 512) + 512, ParameterSets.Llama60M.Count);
        Assert.Equal(58_073_600L, ParameterSets.Llama60M.Count);
        Assert.Equal(1_339_082_752L, ParameterSets.Llama1B.Count);
        Assert.Equal(1 + 8 * 9 + 2, ParameterSets.Llama60M.Tensors.Count);
        Assert.Equal(1 + 24 * 9 + 2, ParameterSets.Llama1B.Tensors.Count);
        Assert.Equal([5461L, 2048L], ParameterSets.Llama1B.Tensors.Single(t => t.Name == "model.layers.0.mlp.up_proj.weight").Shape);
        Assert.Equal(["llama-60m", "gpt2-124m", "llama-1b", "llama-1.5b"], ParameterSets.All.Select(s => s.Name).ToArray());
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
    public void The_floor_is_the_larger_of_the_memory_and_the_compute_floor()
    {
        // Memory floor 1.0 ms (3.02e9 bytes at 3.02e12 B/s); compute floor 2.0 ms (1e11 FLOPs at 5e13 FLOP/s).
        var r = Row("batched", 5.0) with { BytesMoved = 3_020_000_000, MatmulFlops = 100_000_000_000, MatmulFlopsPerS = 5e13 };
        Assert.Equal(1.0, r.MemoryFloorMs, 12);
        Assert.Equal(2.0, r.ComputeFloorMs, 12);
        Assert.Equal(2.0, r.FloorMs, 12);
        Assert.Equal(2.5, r.RatioToFloor, 12);
        // Compute below memory: the memory floor rules.
        var light = r with { MatmulFlops = 5_000_000_000 };
        Assert.Equal(0.1, light.ComputeFloorMs, 12);
        Assert.Equal(5.0, light.RatioToFloor, 12);
        // No matmul throughput measured (rows from elsewhere before the merge): the memory floor alone.
        Assert.Equal(1.0, (r with { MatmulFlopsPerS = 0 }).FloorMs, 12);
        // The refresh amortised over its gap; none without a gap or a measurement.
        Assert.Equal(0.25, (r with { RefreshEvery = 200, RefreshMs = 50 }).RefreshMsPerStep!.Value, 12);
        Assert.Null((r with { RefreshEvery = 0, RefreshMs = 50 }).RefreshMsPerStep);
        Assert.Null((r with { RefreshEvery = 50 }).RefreshMsPerStep);
    }

    [Fact]
    public void The_csv_round_trips_every_column()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"sb-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            var path = Path.Combine(dir, "step-bench.csv");
            var rows = new[]
            {
                Row("cuda-fused", 1.25),
                Row("tensor-ops", 15.5) with { Source = "harness, \"quoted\"", MatmulFlops = 123_456_789_012, MatmulFlopsPerS = 5.1e13, RefreshEvery = 50, RefreshMs = 12.5 },
            };
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
    public void The_committed_gallery_csv_of_the_earlier_columns_reads_and_writes_back_its_values()
    {
        // The gallery CSV was written by the earlier hand-written writer (rows ending in \r\n, as Python's csv module writes
        // them for --compare) before the matmul and refresh columns existed: it reads, the new columns take their empty
        // values, the floor is the memory floor it recorded, and a rewrite (all columns) reads back the same rows.
        var gallery = Path.Combine(TestPaths.RepoRoot(), "reports", "gallery", "step-bench-h100-2026-11-23", "step-bench.csv");
        var rows = StepBenchCsv.Read(gallery);
        Assert.Equal(15, rows.Count);
        Assert.All(rows, r => Assert.Equal((0L, 0.0, 0, (double?)null), (r.MatmulFlops, r.ComputeFloorMs, r.RefreshEvery, r.RefreshMs)));
        Assert.Equal(1.1667537295498107, rows[0].FloorMs, 12);
        Assert.Equal(1.0311413751250216, rows[0].RatioToFloor, 12);
        var copy = Path.Combine(Path.GetTempPath(), $"sb-{Guid.NewGuid():N}.csv");
        try
        {
            StepBenchCsv.Write(copy, rows);
            Assert.Equal(string.Join(",", StepBenchCsv.Columns), File.ReadLines(copy).First());
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

    [Fact]
    public void Bad_optimizer_or_implementation_names_are_one_line_errors_before_any_device_is_needed()
    {
        var dir = Path.GetTempPath();
        var optimizer = HarnessProcess.Run(dir, TimeSpan.FromMinutes(2), "bench-step", "--optimizers", "galore,apollo-maxi");
        Assert.Equal(2, optimizer.ExitCode);
        var line = Assert.Single(optimizer.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("unknown optimizer 'apollo-maxi'", line);
        Assert.Contains("apollo-mini", line);
        var implementation = HarnessProcess.Run(dir, TimeSpan.FromMinutes(2), "bench-step", "--implementations", "batched,fused");
        Assert.Equal(2, implementation.ExitCode);
        Assert.Contains("'fused' is not one of tensor-ops, batched, cuda-fused", Assert.Single(implementation.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }

    [Fact]
    public void Every_cpu_case_runs_with_its_declared_cost_the_sets_rank_and_a_refresh_time_where_it_refreshes()
    {
        // The benchmark's own code on the CPU (bench-step runs it on CUDA): 3,152 fp32 parameters, three 16×32 / 32×16
        // matrices at rank 4. Hand-computed matmul FLOPs per step for the three matrices (16·32 = 512 elements each):
        // GaLore and Q-GaLore 3·4·512·4, SubTrack++ 3·6·512·4, APOLLO 3·2·4·512 (rank 4 from the set), APOLLO-Mini
        // 3·2·512, SWAN 3·(4·16²·32 + 54·16³), Muon 3·5·(4·16²·32 + 2·16³).
        var set = new ParameterSet("tiny", "test",
        [
            new("e", [50, 16], ParamRole.Embedding), new("w1", [16, 32], ParamRole.Matrix), new("w2", [16, 32], ParamRole.Matrix),
            new("w3", [32, 16], ParamRole.Matrix), new("n", [16], ParamRole.Vector), new("head", [50, 16], ParamRole.OutputHead),
        ]) { Rank = 4 };
        var flops = new Dictionary<string, long>
        {
            ["galore"] = 24576, ["qgalore"] = 24576, ["subtrackpp"] = 36864, ["apollo"] = 12288, ["apollo-mini"] = 3072,
            ["swan"] = 3 * (4 * 256 * 32 + 54 * 4096), ["muon"] = 3 * 5 * (4 * 256 * 32 + 2 * 4096),
        };
        using var session = DeviceSession.Basic(TorchSharp.torch.CPU);
        var bench = new StepBench(session, "cpu");
        var rates = new DeviceRates(1e10, 1e9);
        var cases = StepBenchCase.Expand(implementations: [ImplementationChoice.TensorOps, StepImplementation.Batched]);
        Assert.Equal(StepBenchCase.OptimizerNames.Count, cases.Select(c => c.Optimizer).Distinct().Count());
        foreach (var c in cases)
        {
            var r = bench.Run(set, c, TorchSharp.torch.ScalarType.Float32, 1, 2, 1, rates);
            var what = $"{c.Optimizer} {c.Implementation}";
            Assert.True((r.Optimizer, r.Parameters, r.Steps) == (c.Optimizer, 3152L, 2), what);
            Assert.True(r.BytesMoved == 3 * 3152 * 4 + 2 * r.StateBytes, what);
            Assert.True(r.MatmulFlops == flops.GetValueOrDefault(c.Optimizer), $"{what}: {r.MatmulFlops}");
            Assert.True(r.MemoryFloorMs == r.BytesMoved / 1e10 * 1e3 && r.ComputeFloorMs == r.MatmulFlops / 1e9 * 1e3, what);
            var refreshes = c.Descriptor.RefreshEachStep is not null;
            Assert.True(r.RefreshEvery > 0 == refreshes && r.RefreshMs.HasValue == refreshes, what);
            Assert.True(r.MedianMs > 0 && r.MinMs <= r.MedianMs, what);
        }
    }

    [Fact]
    public void The_sweep_times_a_refresh_once_per_optimizer_and_set_unless_told_every_implementation()
    {
        var set = new ParameterSet("tiny", "test", [new("w1", [16, 32], ParamRole.Matrix), new("w2", [16, 32], ParamRole.Matrix), new("n", [16], ParamRole.Vector)])
            { Rank = 4 };
        using var session = DeviceSession.Basic(TorchSharp.torch.CPU);
        var bench = new StepBench(session, "cpu");
        var dir = Path.Combine(Path.GetTempPath(), $"sb-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            var csv = Path.Combine(dir, "step-bench.csv");
            var sweep = new StepBenchSweep
            {
                Sets = [set], Cases = StepBenchCase.Expand(["galore", "lion"], [ImplementationChoice.TensorOps, StepImplementation.Batched]),
                DType = TorchSharp.torch.ScalarType.Float32, Warmup = 1, Steps = 2, SlowSteps = 1, RefreshSteps = 2,
            };
            var once = sweep.Run(bench, new DeviceRates(1e10, 1e9), [], csv).ToList();
            Assert.Equal(["lion default", "galore tensor-ops", "galore batched"], once.Select(o => $"{o.Optimizer} {o.Implementation}").ToArray());
            Assert.All(once, o => Assert.Null(o.Error));
            Assert.Equal([false, true, false], once.Select(o => o.Result!.RefreshMs.HasValue).ToArray());
            // Slow tensor-ops rows (GaLore's line sets no check settings) time SlowSteps; the CSV holds every row.
            Assert.Equal([2, 1, 2], once.Select(o => o.Result!.Steps).ToArray());
            Assert.Equal(once.Select(o => o.Result!), StepBenchCsv.Read(csv));
            var every = (sweep with { RefreshEveryImplementation = true }).Run(bench, new DeviceRates(1e10, 1e9), [], csv).ToList();
            Assert.Equal([false, true, true], every.Select(o => o.Result!.RefreshMs.HasValue).ToArray());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Muon_bf16_products_are_bounded_by_the_bf16_matmul_rate()
    {
        using var w = new TorchSharp.Modules.Parameter(TorchSharp.torch.zeros(16, 32));
        var ps = new List<NamedParameter> { new("w", w, ParamRole.Matrix) };
        var auto = Harness.Optimizers.Muon.MuonStepCost.Of(ps, new Harness.Optimizers.Muon.MuonOptions(), 0);
        var bf16 = Harness.Optimizers.Muon.MuonStepCost.Of(ps,
            new Harness.Optimizers.Muon.MuonOptions { NsDtype = Harness.Optimizers.Muon.NewtonSchulzDtype.Bfloat16 }, 0);
        Assert.False(auto.BFloat16Matmuls); // auto on the CPU: fp32 Newton-Schulz
        Assert.True(bf16.BFloat16Matmuls);
        Assert.Equal(auto.MatmulFlops, bf16.MatmulFlops);
        var rates = new DeviceRates(1e10, 1e9, 8e9);
        Assert.Equal(8e9, rates.MatmulRateFor(bf16));
        Assert.Equal(1e9, rates.MatmulRateFor(auto));
        Assert.Equal(1e9, new DeviceRates(1e10, 1e9).MatmulRateFor(bf16)); // bf16 rate not measured: the benchmark's own
    }
}
