using Harness.Results;
using Harness.Core.Running;
using Harness.Experiments.Workloads;

namespace Harness.Tests.Core;

public sealed class LossMonitorTests
{
    // Initial eval loss 10, divergence_factor 4: the limit is 40; spike_factor 3; patience 3 (the defaults).
    private static LossMonitor New(int patience = 3) => new(new LossMonitorSettings(3, 4, patience), 10.0);

    private static EvalResult Eval(double loss) => new(loss, null, null);

    [Fact]
    public void A_spike_that_recovers_is_an_event_and_not_divergence()
    {
        var monitor = New();
        Assert.Empty(monitor.Observe(10, 8, null, null, false).Events);
        Assert.Empty(monitor.Observe(20, 7, null, null, false).Events);
        Assert.Empty(monitor.Observe(30, 6, null, null, false).Events);
        // 22 > 3 x median(8, 7, 6) = 21: a train spike, well below the limit.
        var (spike, why) = monitor.Observe(40, 22, null, null, false);
        Assert.Null(why);
        var e = Assert.Single(spike);
        Assert.Equal((40, EventKinds.TrainSpike, EventKinds.TrainLoss, 22.0, 21.0), (e.Step, e.Kind, e.Loss, e.Value, e.Threshold));
        // The H100 case: an eval loss of 73 (> 40) after a fine training loss, then recovery.
        var (high, why2) = monitor.Observe(100, 6.5, Eval(73), null, false);
        Assert.Null(why2);
        Assert.Equal([(EventKinds.EvalAboveLimit, 73.0, 40.0)], high.Select(x => (x.Kind, x.Value, x.Threshold)));
        // 21 < 3 x median(8, 7, 6, 22, 6.5) = 21: not a spike (the spike entered the window; the median resists it).
        Assert.Empty(monitor.Observe(110, 21, null, null, false).Events);
        var (last, end) = monitor.Observe(200, 5.5, Eval(5.6), null, true);
        Assert.Empty(last);
        Assert.Null(end);
        Assert.Equal(2, monitor.Spikes);
    }

    [Fact]
    public void Reads_that_stay_above_the_limit_make_the_run_diverged_with_the_reason()
    {
        var monitor = New();
        Assert.Null(monitor.Observe(10, 8, null, null, false).Diverged);
        Assert.Null(monitor.Observe(20, 50, null, null, false).Diverged);
        Assert.Null(monitor.Observe(30, 60, null, null, false).Diverged);
        var (events, why) = monitor.Observe(40, 70, null, null, false);
        Assert.Equal("loss stayed above divergence_factor 4 x initial eval loss 10 (= 40) for 3 consecutive loss reads (steps 20-40; last training loss 70)", why);
        Assert.Equal([EventKinds.TrainAboveLimit, EventKinds.Diverged], events.Select(e => e.Kind));
        Assert.Equal(why, events[^1].Detail);
        Assert.Equal(3, monitor.Spikes);
    }

    [Fact]
    public void A_read_below_the_limit_ends_the_streak_and_a_final_eval_above_it_diverges()
    {
        var monitor = New();
        monitor.Observe(10, 50, Eval(45), null, false);      // two reads above
        monitor.Observe(20, 30, null, null, false);          // below: the streak ends
        Assert.Null(monitor.Observe(30, 50, Eval(45), null, false).Diverged);
        var (events, why) = monitor.Observe(40, 39, Eval(41), null, true);
        Assert.StartsWith("final evaluation loss 41 is above divergence_factor 4", why);
        Assert.Equal([EventKinds.EvalAboveLimit, EventKinds.Diverged], events.Select(e => e.Kind));
    }

    [Fact]
    public void An_eval_only_spike_is_counted_and_a_non_finite_loss_diverges_at_once()
    {
        var monitor = New();
        monitor.Observe(10, 8, null, null, false);
        var (events, why) = monitor.Observe(50, null, Eval(73), null, false);
        Assert.Null(why);
        Assert.Equal([(EventKinds.EvalAboveLimit, EventKinds.EvalLoss)], events.Select(e => (e.Kind, e.Loss)));
        Assert.Equal(1, monitor.Spikes);
        var (nan, whyNan) = monitor.Observe(60, double.NaN, null, null, false);
        Assert.Equal("training loss became NaN at step 60", whyNan);
        Assert.Equal(EventKinds.Diverged, Assert.Single(nan).Kind);
        Assert.Equal(1, monitor.Spikes);
    }
}
