using Harness.Optimizers.LowRank;

namespace Harness.Tests.QGaLore;

/// <summary>The schedule with the SVD mocked out: the similarities are fed directly (spec §6.6).</summary>
public sealed class AdaptiveUpdateGapTests
{
    private static List<long> RefreshSteps(AdaptiveUpdateGap gap, long steps, Func<int, double> similarity, List<long>? gaps = null)
    {
        var refreshes = new List<long>();
        for (long k = 0; k < steps; k++)
        {
            if (!gap.IsDue(k)) continue;
            refreshes.Add(k);
            gap.Record(refreshes.Count == 1 ? null : similarity(refreshes.Count - 1));
            gaps?.Add(gap.UpdateGap);
        }
        return refreshes;
    }

    [Fact]
    public void Aligned_subspaces_double_the_gap_at_every_refresh_once_the_queue_is_full()
    {
        using var gap = new AdaptiveUpdateGap(10, queueSize: 5, cosThreshold: 0.4, gamma: 2);
        var gaps = new List<long>();

        var steps = RefreshSteps(gap, 321, _ => 0.9, gaps);

        Assert.Equal([0L, 10, 20, 30, 40, 50, 60, 80, 160, 320], steps);
        Assert.Equal([10L, 10, 10, 10, 10, 20, 40, 80, 160, 320], gaps);
        Assert.Equal(10, gap.RefreshCount);
        Assert.Equal(5, gap.Similarities.Count);
    }

    [Fact]
    public void A_sign_flip_keeps_the_mean_below_the_threshold_and_the_queue_bounded()
    {
        using var gap = new AdaptiveUpdateGap(10, queueSize: 5, cosThreshold: 0.4, gamma: 2);
        // 0.7, 0.7, −1 (a flipped top vector), 0.7, 0.7: mean 0.36 < 0.4, so no doubling while the −1 is queued.
        double[] sims = [0.7, 0.7, -1, 0.7];

        var steps = RefreshSteps(gap, 200, i => sims[Math.Min(i - 1, sims.Length - 1)]);

        // T stays 10 through step 70 (the −1 is queued until then); at 80 it has left and T becomes 20, then 40, 80, 160.
        Assert.Equal([0L, 10, 20, 30, 40, 50, 60, 70, 80, 100, 120, 160], steps);
        Assert.Equal(160, gap.UpdateGap);
        Assert.Equal(5, gap.Similarities.Count);
        Assert.DoesNotContain(-1.0, gap.Similarities);
    }

    [Fact]
    public void A_threshold_never_reached_keeps_the_initial_gap()
    {
        using var gap = new AdaptiveUpdateGap(3, queueSize: 2, cosThreshold: 0.4, gamma: 2);

        var steps = RefreshSteps(gap, 30, _ => 0.39);

        Assert.Equal(Enumerable.Range(0, 10).Select(i => 3L * i), steps);
        Assert.Equal(3, gap.UpdateGap);
        Assert.Equal(2, gap.Similarities.Count);
    }
}
