using Harness.Results;
using Harness.Reports.Charts;
using Harness.Reports.Tables;

namespace Harness.Tests.Reports;

public sealed class ChartModelTests
{
    [Fact]
    public void Loss_curve_is_the_mean_over_seeds_with_a_named_min_max_band()
    {
        var chart = LossCurves.Build(ReportFixtures.TwoOptimizers(), LossAxis.Step, eval: true);
        var adamw = chart.Series.Single(s => s.Optimizer == "adamw");
        Assert.Equal(3, adamw.Seeds);
        Assert.Equal("adamw: min–max over 3 seeds", adamw.BandLabel);
        Assert.Equal([0.0, 10, 20], adamw.Points.Select(p => p.X));
        var last = adamw.Points[^1];
        Assert.Equal(3.1, last.Y, 12);
        Assert.Equal(3.0, last.Low, 12);
        Assert.Equal(3.2, last.High, 12);
    }

    [Fact]
    public void A_diverged_run_is_its_own_marked_line_up_to_its_last_finite_value()
    {
        var chart = LossCurves.Build(ReportFixtures.TwoOptimizers(), LossAxis.Tokens, eval: true);
        var diverged = chart.Series.Single(s => s.Incomplete is not null);
        Assert.Equal("diverged", diverged.Incomplete);
        Assert.Equal("lion seed 3 (diverged)", diverged.Label);
        Assert.Equal([0.0, 1000], diverged.Points.Select(p => p.X)); // the NaN at step 20 is not drawn
        Assert.Contains(chart.Notes, n => n.Contains("lion seed 3: diverged (loss is NaN at step 15)", StringComparison.Ordinal));
        var lion = chart.Series.Single(s => s.Optimizer == "lion" && s.Incomplete is null);
        Assert.Equal(3, lion.Seeds); // the diverged seed stays out of the mean
        Assert.Equal(2.1, lion.Points[^1].Y, 12);
    }

    [Fact]
    public void Loss_events_are_markers_at_their_step_and_value_on_the_chart_of_their_loss()
    {
        var spiky = ReportFixtures.Run("adam8bit", "adam8bit", 0, 1e-3, 4.0, 0.5, 2000, 1000) with
        {
            Events =
            [
                new EventRecord { Step = 10, Kind = EventKinds.TrainSpike, Loss = EventKinds.TrainLoss, Value = 9.5, Threshold = 9 },
                new EventRecord { Step = 20, Kind = EventKinds.EvalAboveLimit, Loss = EventKinds.EvalLoss, Value = 73, Threshold = 16 },
                new EventRecord { Step = 20, Kind = EventKinds.Diverged, Loss = EventKinds.EvalLoss, Value = 73, Threshold = 16 }, // not a second marker
            ],
        };
        var runs = ReportFixtures.TwoOptimizers().Append(spiky).ToList();
        var train = LossCurves.Build(runs, LossAxis.Step, eval: false);
        var m = Assert.Single(train.Markers);
        Assert.Equal((10.0, 9.5, "adam8bit", EventKinds.TrainSpike), (m.X, m.Y, m.Optimizer, m.Kind));
        var eval = LossCurves.Build(runs, LossAxis.Step, eval: true);
        Assert.Equal([(20.0, 73.0)], eval.Markers.Select(x => (x.X, x.Y)));
        Assert.Contains(eval.Notes, n => n.Contains("1 loss event(s) marked ▲ (events.csv): adam8bit seed 0 eval_above_limit 73 at step 20", StringComparison.Ordinal));
        // On the tokens axis the marker moves with its step (100 tokens per step in the fixture).
        Assert.Equal([(2000.0, 73.0)], LossCurves.Build(runs, LossAxis.Tokens, eval: true).Markers.Select(x => (x.X, x.Y)));
        Assert.Empty(LossCurves.Build(ReportFixtures.TwoOptimizers(), LossAxis.Step, eval: true).Markers);
    }

    [Fact]
    public void Log_x_drops_the_step_zero_evaluation_and_one_seed_has_no_band()
    {
        var runs = new[] { ReportFixtures.Run("adamw", "adamw", 0, 1e-3, 4.0, 0.5, 8000, 1000) };
        var chart = LossCurves.Build(runs, LossAxis.WallClock, eval: true, logX: true);
        var s = Assert.Single(chart.Series);
        Assert.Null(s.BandLabel);
        Assert.Equal([5.0, 10.0], s.Points.Select(p => p.X));
        Assert.True(chart.LogX);
        Assert.Equal("loss_eval_vs_wallclock_logx", chart.Name);
    }

    [Fact]
    public void Memory_bars_compute_params_and_grads_measure_state_and_omit_what_cpu_cannot_measure()
    {
        var rows = SummaryTable.Build(ReportFixtures.TwoOptimizers());
        var chart = MemoryBars.Build(rows);
        Assert.Equal("KiB", chart.Unit);
        var lion = chart.Bars.Single(b => b.Optimizer == "lion");
        Assert.Equal([MemoryBars.Parameters, MemoryBars.Gradients, MemoryBars.State], lion.Segments.Select(s => s.Name));
        Assert.Equal([false, false, true], lion.Segments.Select(s => s.Measured));
        Assert.Equal(4000 / 1024.0, lion.Segments[0].Value, 12); // 1000 params × 4 B
        Assert.Equal(4000 / 1024.0, lion.Segments[2].Value, 12);
        // Lion 4000+4000+4000 over AdamW 4000+4000+8000.
        Assert.Equal("×0.75 AdamW\nstate ×0.50", lion.Annotation);
        Assert.Contains(chart.Notes, n => n.StartsWith("step transient and other peak: not measured", StringComparison.Ordinal));
        Assert.DoesNotContain(chart.Bars.SelectMany(b => b.Segments), s => s.Name == MemoryBars.Transient);
    }

    [Fact]
    public void Measured_peak_adds_transient_and_the_rest_of_the_peak()
    {
        var row = new ReportRow
        {
            Label = "adamw", Optimizer = "adamw", Runs = 1, Completed = 1, Baseline = true, ParamCount = 256, ParamElementBytes = 4,
            StepMode = "standard", StateBytesMean = 2048, StepTransientBytesMean = 512, TrainStepPeakBytesMean = 8192,
        };
        var bar = Assert.Single(MemoryBars.Build([row]).Bars);
        Assert.Equal([1.0, 1.0, 2.0, 0.5, 3.5], bar.Segments.Select(s => s.Value)); // KiB; 8 − (1+1+2+0.5)
        Assert.Equal(MemoryBars.OtherPeak, bar.Segments[^1].Name);
    }

    [Fact]
    public void Throughput_bars_carry_the_implementation_spread_and_ratio()
    {
        var chart = SpeedBars.Throughput(SummaryTable.Build(ReportFixtures.TwoOptimizers()));
        var lion = chart.Bars.Single(b => b.Optimizer == "lion");
        Assert.Equal("lion\n[tensor-ops]", lion.Label);
        Assert.Equal(1500, lion.Total, 9);
        Assert.Equal(10, lion.Error!.Value, 9);
        Assert.Equal("×1.50 AdamW", lion.Annotation);
    }

    [Fact]
    public void Pareto_frontier_keeps_only_non_dominated_points_in_x_order()
    {
        ParetoPoint P(string l, double x, double y) => new(l, l, x, y, false);
        var front = ParetoFront.Frontier([P("a", 4, 3.0), P("b", 1, 3.5), P("c", 2, 3.6), P("d", 2, 3.2), P("e", 8, 3.0), P("f", 0, 4.0)]);
        Assert.Equal(["f", "b", "d", "a"], front.Select(p => p.Label)); // c dominated by d; e ties a on y with more memory
    }

    [Fact]
    public void Pareto_chart_marks_frontier_points_from_the_table()
    {
        var chart = ParetoFront.Build(SummaryTable.Build(ReportFixtures.TwoOptimizers()));
        Assert.Equal(["lion"], chart.Frontier.Select(p => p.Label)); // lion: less state and lower loss
        Assert.False(chart.Points.Single(p => p.Label == "adamw").OnFrontier);
    }

    [Fact]
    public void Sweep_marks_the_best_lr_and_warns_when_it_sits_on_the_edge()
    {
        var runs = new[] { (1e-4, 3.5), (1e-3, 3.1), (1e-2, 3.3) }
            .Select(p => ReportFixtures.Run($"adamw lr={p.Item1}", "adamw", 0, p.Item1, p.Item2 + 1, 0.5, 8000, 1000))
            .Concat(new[] { (1e-4, 3.4), (3e-4, 3.2) }.Select(p => ReportFixtures.Run($"lion lr={p.Item1}", "lion", 0, p.Item1, p.Item2 + 1, 0.5, 4000, 1000)))
            .Append(ReportFixtures.Run("lion lr=0.001", "lion", 0, 1e-3, 9, 0.5, 4000, 1000, status: "diverged"))
            .ToList();
        var chart = SweepCurves.Build(runs)!;
        Assert.True(chart.LogX);
        var adamw = chart.Series.Single(s => s.Optimizer == "adamw");
        Assert.Equal([1e-4, 1e-3, 1e-2], adamw.Points.Select(p => p.X));
        Assert.Equal(1e-3, adamw.Best!.X);
        var lion = chart.Series.Single(s => s.Optimizer == "lion");
        Assert.Equal(3e-4, lion.Best!.X);
        var warnings = chart.Notes.Where(n => n.StartsWith("WARNING", StringComparison.Ordinal)).ToList();
        // lion's best completed lr (3e-4) is not the top of the swept range (1e-3, diverged): no edge warning; adamw's is interior.
        Assert.Empty(warnings);
        Assert.Contains(chart.Notes, n => n.Contains("lion lr=0.001: seed 0 diverged", StringComparison.Ordinal));

        var edge = SweepCurves.Build(runs.Where(r => r.Optimizer == "adamw" && r.LearningRate != 1e-3).ToList())!;
        Assert.Contains(edge.Notes, n => n.StartsWith("WARNING adamw: best lr 0.01 is at the high edge of the swept range [0.0001, 0.01]", StringComparison.Ordinal));
    }

    [Fact]
    public void No_sweep_chart_without_two_learning_rates()
    {
        Assert.Null(SweepCurves.Build(ReportFixtures.TwoOptimizers()));
        Assert.Equal("galore rank=8", SweepCurves.FamilyOf("galore lr=0.01 rank=8"));
    }

    [Fact]
    public void Palette_gives_adamw_the_first_colour_and_each_optimizer_one_colour()
    {
        var a = new Palette(["lion", "galore", "adamw", "lion"]);
        var b = new Palette(["adamw", "galore", "lion"]);
        Assert.Equal("#0072B2", a.Of("adamw"));
        Assert.Equal(b.Of("galore"), a.Of("galore"));
        Assert.Equal(3, new[] { a.Of("adamw"), a.Of("galore"), a.Of("lion") }.Distinct().Count());
    }
}
