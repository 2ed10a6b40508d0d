using Harness.Optimizers;
using Harness.Optimizers.Gefen;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Harness.Tests.Gefen;

/// <summary>The planner's Gefen range: every period the selection rule can return lies within it.</summary>
public sealed class GefenStateBoundsTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>The largest of what <see cref="BlockPeriods.Select"/> returns when each selectable candidate in turn is the one strict maximum.</summary>
    private static long LargestSelected(long n)
    {
        var candidates = BlockPeriods.Divisors(n).Where(p => n / p >= BlockPeriods.MinBlocks).ToList();
        long best = 1;
        for (var k = 0; k < candidates.Count; k++)
            best = Math.Max(best, BlockPeriods.Select(candidates.Select((p, i) => (p, i == k ? 1.0 : 0.0)).ToList(), n));
        return best;
    }

    [Theory]
    [InlineData(1L)]
    [InlineData(35L)]
    [InlineData(36L)]
    [InlineData(4096L)]
    [InlineData(128L * 352)]
    [InlineData(768L * 3072)]
    [InlineData(4096L * 4096)]
    [InlineData(4096L * 11008)]
    [InlineData(32000L * 4096)]
    [InlineData(50257L * 768)]
    [InlineData(65537L)]
    public void The_largest_period_is_the_largest_the_selection_rule_can_return(long n) =>
        Assert.Equal(LargestSelected(n), GefenStateBounds.LargestPeriod(n));

    [Fact]
    public void Worked_examples_of_the_spec()
    {
        Assert.Equal(2048, GefenStateBounds.LargestPeriod(4096L * 4096));   // gefen.md §3.1: P = 4096 is capped to 2048
        Assert.Equal(1, GefenStateBounds.LargestPeriod(65537));             // a prime has no candidate but itself
        Assert.Equal(1, GefenStateBounds.LargestPeriod(35));                // no divisor above 8 leaves 4 blocks
        Assert.Equal(12, GefenStateBounds.LargestPeriod(72));               // 9 and 12 can win; 18 (4 blocks) is the last entry
    }

    [Fact]
    public void The_range_holds_the_measured_state_of_structured_and_unstructured_gradients()
    {
        using var scope = NewDisposeScope();
        using var g = new Generator(5, CPU);
        var options = new GefenOptions();
        var ps = new[]
        {
            new NamedParameter("w", new Parameter(randn([48, 96], generator: g)), ParamRole.Matrix),
            new NamedParameter("b", new Parameter(randn([96], generator: g)), ParamRole.Vector),
        };
        var range = GefenStateBounds.Of(ps, options);
        // Per tensor n + 2·4·n/P (P > 1) or n + 4n + 4n/D (P = 1), plus the 1 KiB codebook.
        Assert.Equal(48 * 96 + 4 * 48 * 96 + 4 * (48 * 96 / 256) + 96 + 4 * 96 + 4 * 1 + 1024, range.Max);
        // The least: w with P = 768 (6 blocks; 1152, 4 blocks, is the last entry), b with P = 16 (24 is the last).
        Assert.Equal(48 * 96 + 8 * (48 * 96 / 768) + 96 + 8 * (96 / 16) + 1024, range.Min);
        // Signs with a power-of-two scale per row (the structure of a Linear's gradient), and plain signs. Few distinct
        // block-normalised values keep the first step's codebook search short (white noise takes seconds).
        foreach (var rowScaled in new[] { true, false })
        {
            using var optimizer = new Harness.Optimizers.Gefen.Gefen(ps, options);
            var signs = randn([48, 96], generator: g).sign();
            ps[0].Value.grad = rowScaled ? signs.mul(pow(2, randint(0, 4, [48, 1], generator: g).to_type(ScalarType.Float32))) : signs;
            ps[1].Value.grad = randn([96], generator: g).sign();
            optimizer.Step(1e-3);
            output.WriteLine($"row-scaled {rowScaled}: periods {string.Join(", ", optimizer.ParameterChoices[Harness.Optimizers.Gefen.Gefen.PeriodsKey])}, state {optimizer.StateBytes} in {range}");
            Assert.True(range.Contains(optimizer.StateBytes), $"{optimizer.StateBytes} outside {range}");
            // Row structure: w gets P = 96 (one block per row); plain signs: P = 1 everywhere, the upper end exactly.
            Assert.Equal(rowScaled ? 48 * 96 + 8 * 48 + 96 + 4 * 96 + 4 + 1024 : range.Max, optimizer.StateBytes);
        }
    }
}
