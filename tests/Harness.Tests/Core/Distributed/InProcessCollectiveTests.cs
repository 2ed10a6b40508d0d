using System.Diagnostics;
using Harness.Core.Distributed;
using static TorchSharp.torch;

namespace Harness.Tests.Core.Distributed;

public sealed class InProcessCollectiveTests
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);

    [Fact]
    public void All_reduce_all_gather_and_broadcast_give_every_rank_the_same_exact_values()
    {
        var results = InProcessCollectiveGroup.Run(3, Long, c =>
        {
            var sum = tensor(new float[] { c.Rank, 10 * c.Rank, 1 });
            c.AllReduce(sum, ReduceOp.Sum);
            var mean = tensor(new float[] { c.Rank, 3 });
            c.AllReduce(mean, ReduceOp.Average);
            var gathered = zeros(6);
            c.AllGather(tensor(new float[] { c.Rank, -c.Rank }), gathered);
            var cast = full(2, c.Rank == 2 ? 7f : -1f);
            c.Broadcast(cast, 2);
            c.Barrier();
            return (Sum: sum.data<float>().ToArray(), Mean: mean.data<float>().ToArray(), Gathered: gathered.data<float>().ToArray(), Cast: cast.data<float>().ToArray());
        });
        Assert.All(results, r =>
        {
            Assert.Equal([3f, 30f, 3f], r.Sum);
            Assert.Equal([1f, 3f], r.Mean);
            Assert.Equal([0f, 0f, 1f, -1f, 2f, -2f], r.Gathered);
            Assert.Equal([7f, 7f], r.Cast);
        });
    }

    /// <summary>A rank that throws fails the run at once with one line naming it; the others are released, not left waiting.</summary>
    [Fact]
    public void A_failing_rank_fails_the_run_with_one_line_naming_it_long_before_the_timeout()
    {
        var watch = Stopwatch.StartNew();
        var e = Assert.Throws<RankFailedException>(() => InProcessCollectiveGroup.Run(2, Long, c =>
        {
            for (var step = 0; step < 5; step++)
            {
                if (c.Rank == 1 && step == 3) throw new InvalidOperationException("boom at step 3\nsecond line");
                c.AllReduce(ones(4), ReduceOp.Sum);
            }
            return 0;
        }));
        Assert.Equal(1, e.Rank);
        Assert.Equal("rank 1 failed: InvalidOperationException: boom at step 3", e.Message);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
    }

    /// <summary>A rank that never joins (a hang, a lost process) fails the run after the timeout, naming the rank that waited.</summary>
    [Fact]
    public void A_rank_that_never_joins_fails_the_run_after_the_timeout()
    {
        var timeout = TimeSpan.FromMilliseconds(400);
        var watch = Stopwatch.StartNew();
        var e = Assert.Throws<RankFailedException>(() => InProcessCollectiveGroup.Run(2, timeout, c =>
        {
            if (c.Rank == 0) c.AllReduce(ones(2), ReduceOp.Sum);
            return 0;
        }));
        Assert.Equal(0, e.Rank);
        Assert.Equal("rank 0: collective #1 (all_reduce(Sum) of 2 Float32) timed out after 0.4 s waiting for the other ranks", e.Message);
        // The wait's own clock and this stopwatch can disagree by a timer tick (measured 0.3995 s for 0.4 s).
        Assert.InRange(watch.Elapsed, timeout - TimeSpan.FromMilliseconds(20), TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void Ranks_calling_different_operations_fail_instead_of_mixing_data()
    {
        var e = Assert.Throws<RankFailedException>(() => InProcessCollectiveGroup.Run(2, Long, c =>
        {
            c.AllReduce(ones(c.Rank == 0 ? 2 : 3), ReduceOp.Sum);
            return 0;
        }));
        Assert.Contains("does not match another rank's", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
