using Harness.Core.Distributed;
using Harness.Optimizers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Harness.Tests.Core.Distributed;

public sealed class GradientBucketsTests
{
    private static readonly string[] F32 = ["f", "f", "f", "f", "f"];

    [Fact]
    public void Buckets_fill_in_reverse_parameter_order_up_to_the_cap()
    {
        var b = new GradientBuckets([100, 200, 300, 400, 50], F32, 500);
        Assert.Equal([[4, 3], [2, 1], [0]], b.Buckets.Select(x => x.ToArray()).ToArray());
        // A parameter over the cap gets a bucket of its own; a dtype change starts a new one.
        var big = new GradientBuckets([10, 1000, 10], ["f", "f", "f"], 100);
        Assert.Equal([[2], [1], [0]], big.Buckets.Select(x => x.ToArray()).ToArray());
        var mixed = new GradientBuckets([10, 10, 10, 10], ["f", "f", "h", "h"], 1000);
        Assert.Equal([[3, 2], [1, 0]], mixed.Buckets.Select(x => x.ToArray()).ToArray());
    }

    /// <summary>Buckets launch in order, as DDP does: a full later bucket waits for the earlier ones.</summary>
    [Fact]
    public void A_bucket_is_launched_when_it_and_every_bucket_before_it_are_full()
    {
        var b = new GradientBuckets([100, 200, 300, 400, 50], F32, 500);
        Assert.Empty(b.MarkReady(2));
        Assert.Empty(b.MarkReady(1));   // bucket 1 is full but bucket 0 is not
        Assert.Empty(b.MarkReady(4));
        Assert.Equal([0, 1], b.MarkReady(3));
        Assert.Equal([2], b.MarkReady(0));
        b.Reset();
        Assert.Empty(b.MarkReady(4));
        Assert.Equal([0], b.MarkReady(3));
    }

    [Fact]
    public void Reducing_the_buckets_averages_every_gradient_and_fills_a_missing_one_with_the_others_mean()
    {
        var results = InProcessCollectiveGroup.Run(2, TimeSpan.FromSeconds(30), c =>
        {
            var ps = new[] { 3, 5, 2 }.Select((n, i) => new NamedParameter($"p{i}", new Parameter(zeros(n)), ParamRole.Vector)).ToList();
            for (var i = 0; i < ps.Count; i++)
                if (!(c.Rank == 1 && i == 2)) ps[i].Value.grad = full(ps[i].Value.numel(), (float)(10 * i + c.Rank + 1));
            var buckets = new GradientBuckets(ps, bucketBytes: 24);
            buckets.ReduceAll(ps, c);
            return ps.Select(p => p.Value.grad!.data<float>().ToArray()).ToArray();
        });
        Assert.All(results, grads =>
        {
            Assert.All(grads[0], g => Assert.Equal(1.5f, g));
            Assert.All(grads[1], g => Assert.Equal(11.5f, g));
            Assert.All(grads[2], g => Assert.Equal(10.5f, g));   // rank 0's 21, rank 1's missing 0
        });
    }
}
