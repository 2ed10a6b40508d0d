using Harness.Optimizers.Gefen;
using static TorchSharp.torch;

namespace Harness.Tests.Gefen;

/// <summary>The period rule against the spec's worked examples (gefen.md §1.5, §7.1 T1–T5).</summary>
public sealed class BlockPeriodsTests
{
    [Fact]
    public void Divisors_include_one_and_n_in_ascending_order()
    {
        Assert.Empty(BlockPeriods.Divisors(1));
        Assert.Equal([1L, 2], BlockPeriods.Divisors(2));
        Assert.Equal([1L, 2, 3, 4, 6, 12], BlockPeriods.Divisors(12));
        Assert.Equal([1L, 13], BlockPeriods.Divisors(13));
        Assert.Equal([1L, 2, 4, 8, 16], BlockPeriods.Divisors(16));
        Assert.Equal(57, BlockPeriods.Divisors(768 * 3072).Count);
        Assert.Equal(72, BlockPeriods.Divisors(50257L * 768).Count);
        Assert.Equal(256, BlockPeriods.Divisors(50257L * 768, 256)[^1]);
        Assert.Equal([1L, 29], BlockPeriods.Divisors(50257, 256));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(200, 200)]
    [InlineData(768, 256)]
    [InlineData(50257, 29)]
    [InlineData(65537, 1)]
    public void Largest_divisor_at_most_256(long n, long expected) =>
        Assert.Equal(expected, BlockPeriods.LargestDivisorAtMost(n, 256));

    private static List<(long, double)> Scores(params (long, double)[] s) => [.. s];

    [Fact]
    public void Selection_takes_the_best_strict_local_maximum_above_8()
    {
        Assert.Equal(16, BlockPeriods.Select(Scores((1, 5), (2, 4), (4, 3), (8, 2), (16, 3), (32, 1), (64, .5)), 1 << 20));
        // Local maxima only at p <= 8.
        Assert.Equal(1, BlockPeriods.Select(Scores((1, 1), (2, 3), (4, 1), (8, 2), (16, 1), (32, 0.5)), 1 << 20));
        // A tie between 32 and 128 goes to the larger period.
        Assert.Equal(128, BlockPeriods.Select(Scores((1, 0), (16, 1), (32, 2), (64, 1), (128, 2), (256, 1)), 1 << 20));
        Assert.Equal(1, BlockPeriods.Select(Scores((1, 0), (2, 0), (16, 0), (32, 0)), 1 << 20));
        // The best score at the last entry is never selected.
        Assert.Equal(1, BlockPeriods.Select(Scores((1, 0), (16, 1), (32, 2), (64, 3)), 1 << 20));
        Assert.Equal(1, BlockPeriods.Select([], 12));
    }

    [Theory]
    [InlineData(4096, 4096 * 16, 2048)]
    [InlineData(3072, 3072 * 16, 1536)]
    [InlineData(1536, 1536 * 16, 1536)]
    [InlineData(2048, 2048 * 16, 2048)]
    [InlineData(4100, 4100 * 16, 1025)]
    public void Periods_above_1024_are_capped_to_the_smallest_divisor_above_1024(long best, long n, long expected) =>
        Assert.Equal(expected, BlockPeriods.Select(Scores((1, 0), (best, 1), (n, 0)), n));

    [Fact]
    public void Score_is_the_mean_absolute_difference_of_adjacent_log_block_means()
    {
        double[] squares = [1, 1, 4, 4, 1, 1, 4, 4];
        var logs = squares.Select(v => Math.Log(v + 1e-12)).ToArray();
        Assert.Equal(Math.Log(4 + 1e-12) - Math.Log(1 + 1e-12), BlockPeriods.Score(logs, 2), 14);
        Assert.Equal(Math.Log(4), BlockPeriods.Score(logs, 2), 11);
        Assert.Equal(0, BlockPeriods.Score(logs, 4), 15);
    }

    [Fact]
    public void Row_scaled_gradients_give_the_row_length_and_structureless_ones_give_one()
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(11);
        var rowScale = exp(randn([48, 1], generator: gen).mul_(2));
        Assert.Equal(96, BlockPeriods.Infer(randn([48, 96], generator: gen) * rowScale));
        Assert.Equal(1536, BlockPeriods.Infer(randn([48, 1536], generator: gen) * rowScale));
        Assert.Equal(1, BlockPeriods.Infer(zeros(48, 96)));
        Assert.Equal(1, BlockPeriods.Infer(randn([7], generator: gen)));
        Assert.Equal(1, BlockPeriods.Infer(randn([1], generator: gen)));
    }
}
