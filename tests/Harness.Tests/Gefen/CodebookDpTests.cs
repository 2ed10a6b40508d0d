using Harness.Optimizers.Gefen;
using static TorchSharp.torch;

namespace Harness.Tests.Gefen;

/// <summary>The codebook unit: histogram binning, the padded codebook, and the DP against brute force (gefen.md §1.6, T6–T9).</summary>
public sealed class CodebookDpTests
{
    // Every split of n sorted points into k non-empty contiguous runs; the cheapest one's centres.
    private static (double Cost, double[] Centers) BruteForce(double[] c, double[] w, int k, bool force)
    {
        var best = (Cost: double.PositiveInfinity, Centers: Array.Empty<double>());
        void Recurse(int start, int run, List<double> centers, double cost)
        {
            if (run == k)
            {
                if (start == c.Length && cost < best.Cost) best = (cost, centers.ToArray());
                return;
            }
            for (var end = start + 1; end <= c.Length - (k - run - 1); end++)
            {
                double sw = 0, sx = 0;
                for (var i = start; i < end; i++) (sw, sx) = (sw + w[i], sx + w[i] * c[i]);
                var center = force && run == 0 ? -1 : force && run == k - 1 ? 1 : sx / sw;
                var runCost = 0.0;
                for (var i = start; i < end; i++) runCost += w[i] * (c[i] - center) * (c[i] - center);
                centers.Add(center);
                Recurse(end, run + 1, centers, cost + runCost);
                centers.RemoveAt(centers.Count - 1);
            }
        }
        Recurse(0, 0, [], 0);
        return best;
    }

    [Fact]
    public void The_DP_equals_the_brute_force_optimum_on_small_histograms()
    {
        var rng = new Random(42);
        for (var trial = 0; trial < 300; trial++)
        {
            var n = rng.Next(2, 10);
            var k = rng.Next(1, Math.Min(5, n) + 1);
            var force = k >= 2 && rng.Next(2) == 0;
            var c = Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 2 - 1).Order().ToArray();
            var w = Enumerable.Range(0, n).Select(_ => (double)rng.Next(1, 20)).ToArray();

            var dp = CodebookDp.Solve(c, w, k, force);
            var (_, expected) = BruteForce(c, w, k, force);

            Assert.Equal(k, dp.Length);
            var sorted = expected.Order().ToArray();
            for (var i = 0; i < k; i++)
                Assert.True(Math.Abs(dp[i] - sorted[i]) <= 1e-6, $"trial {trial} (n {n}, k {k}, forced {force}): codeword {i} is {dp[i]}, brute force {sorted[i]}");
        }
    }

    [Fact]
    public void Forced_endpoints_are_minus_one_and_one_and_interior_codewords_are_weighted_means()
    {
        double[] c = [-0.9, -0.5, -0.4, 0.1, 0.2, 0.95];
        double[] w = [1, 2, 2, 3, 1, 1];
        var book = CodebookDp.Solve(c, w, 4, forceEndpoints: true);
        Assert.Equal(-1f, book[0]);
        Assert.Equal(1f, book[^1]);
        // By hand: the cheapest split is {-0.9} {-0.5,-0.4} {0.1,0.2} {0.95}; interior centres are the weighted means.
        Assert.Equal(-0.45f, book[1], 6);
        Assert.Equal((float)((0.3 + 0.2) / 4), book[2], 6);
    }

    [Fact]
    public void Fewer_active_bins_than_codewords_give_the_padded_codebook()
    {
        var counts = new float[CodebookDp.Bins];
        counts[10] = 3; counts[2048] = 5; counts[3000] = 1;
        var book = CodebookDp.FromHistogram(counts);
        // [active..., last active repeated], first entry → -1 (drops the smallest active centre), last → +1, sorted.
        Assert.Equal(256, book.Length);
        Assert.Equal(-1f, book[0]);
        Assert.Equal(CodebookDp.BinCenter(2048), book[1]);
        Assert.All(book[2..255], v => Assert.Equal(CodebookDp.BinCenter(3000), v));
        Assert.Equal(1f, book[255]);

        var zerosOnly = new float[CodebookDp.Bins];
        zerosOnly[2048] = 100;
        var z = CodebookDp.FromHistogram(zerosOnly);
        Assert.Equal(-1f, z[0]);
        Assert.All(z[1..255], v => Assert.Equal(1f / 4096, v));
        Assert.Equal(1f, z[255]);
        Assert.Throws<ArgumentException>(() => CodebookDp.FromHistogram(new float[CodebookDp.Bins]));
    }

    [Fact]
    public void Histogram_bins_values_normalised_by_their_block_absmax()
    {
        using var scope = NewDisposeScope();
        var counts = new float[CodebookDp.Bins];
        // One block of 4 with absmax 2: x = [-1, 0, 0.5, 1] → bins 0, 2048, 3072, 4096 clamped to 4095.
        CodebookDp.AccumulateHistogram(tensor(new float[] { -2f, 0f, 1f, 2f }), 4, counts);
        // A zero block counts as zeros; P = 1 blocks give only -1, 0, +1.
        CodebookDp.AccumulateHistogram(tensor(new float[] { 0f, 0f, -3f, 5f }), 1, counts);
        Assert.Equal(1 + 1, counts[0]);
        Assert.Equal(1 + 2, counts[2048]);
        Assert.Equal(1, counts[3072]);
        Assert.Equal(1 + 1, counts[4095]);
        Assert.Equal(8, counts.Sum());
        Assert.Equal(-1 + 0.5f / 2048, CodebookDp.BinCenter(0));
        Assert.Equal(1 - 0.5f / 2048, CodebookDp.BinCenter(4095));
    }
}
