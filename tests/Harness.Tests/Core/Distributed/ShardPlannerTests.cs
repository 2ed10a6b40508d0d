using Harness.Core.Distributed;
using Harness.Optimizers;

namespace Harness.Tests.Core.Distributed;

public sealed class ShardPlannerTests
{
    // A LLaMA-like mix: embedding, square and rectangular matrices, norms, tensors not a multiple of a block, a 1-element one.
    private static readonly long[] Numels = [32000 * 64, 64 * 64, 64 * 64, 64 * 172, 172 * 64, 64, 64, 5000, 1, 4096 * 3 + 17, 32000 * 64];
    private static readonly long[] Sizes = Numels.Select(_ => 4L).ToArray();

    public static TheoryData<int, long> Granularities => new()
    {
        { 1, 0 }, { 2, 0 }, { 3, 0 }, { 8, 0 },          // whole tensors
        { 1, 1 }, { 2, 1 }, { 3, 1 }, { 8, 1 },          // element ranges
        { 2, 4096 }, { 3, 4096 }, { 8, 4096 }, { 5, 2048 }, // blocks
    };

    private static ShardGranularity Of(long block) => block == 0 ? ShardGranularity.WholeTensor : block == 1 ? ShardGranularity.Elements : ShardGranularity.Blocks(block);

    [Theory, MemberData(nameof(Granularities))]
    public void Every_element_of_every_parameter_is_owned_by_exactly_one_rank(int world, long block)
    {
        var plan = ShardPlanner.Plan(Numels, Sizes, Of(block), world);
        for (var i = 0; i < Numels.Length; i++)
        {
            var pieces = plan.Pieces.Where(p => p.Parameter == i).OrderBy(p => p.Start).ToList();
            Assert.Equal(0, pieces[0].Start);
            for (var k = 1; k < pieces.Count; k++) Assert.Equal(pieces[k - 1].Start + pieces[k - 1].Length, pieces[k].Start);
            Assert.Equal(Numels[i], pieces.Sum(p => p.Length));
            Assert.All(pieces, p => Assert.InRange(p.Rank, 0, world - 1));
        }
        Assert.Equal(Numels.Sum(), Enumerable.Range(0, world).Sum(plan.OwnedElements));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(8)]
    public void Whole_tensor_plans_never_split_a_tensor_and_balance_bytes_within_the_largest_tensor(int world)
    {
        var plan = ShardPlanner.Plan(Numels, Sizes, ShardGranularity.WholeTensor, world);
        Assert.Equal(Numels.Length, plan.Pieces.Count);
        Assert.All(plan.Pieces, p => Assert.True(p.IsWhole(Numels[p.Parameter])));
        var loads = Enumerable.Range(0, world).Select(r => plan.OwnedBytes(r, Sizes)).ToList();
        var largest = Numels.Max() * 4;
        Assert.True(loads.Max() - loads.Min() <= largest, $"loads {string.Join(",", loads)}");
        Assert.True(loads.Max() <= Numels.Sum() * 4 / world + largest);
        // The two 8 MB embeddings are the largest tensors: on two or more ranks they go to different ranks.
        Assert.NotEqual(plan.Pieces[0].Rank, plan.Pieces[^1].Rank);
    }

    [Theory]
    [InlineData(2, 1L)]
    [InlineData(3, 1L)]
    [InlineData(8, 1L)]
    [InlineData(2, 4096L)]
    [InlineData(8, 4096L)]
    public void Range_plans_give_each_rank_its_share_within_one_block_and_cut_only_on_block_boundaries(int world, long block)
    {
        var plan = ShardPlanner.Plan(Numels, Sizes, Of(block), world);
        var total = Numels.Sum();
        for (var r = 0; r < world; r++)
            Assert.InRange(plan.OwnedElements(r), total / world - block, total / world + block + 1);
        foreach (var p in plan.Pieces)
        {
            Assert.Equal(0, p.Start % block);
            Assert.True((p.Start + p.Length) % block == 0 || p.Start + p.Length == Numels[p.Parameter]);
        }
        // Each rank owns one contiguous run of the concatenated parameters: pieces ordered by rank along the flat order.
        var ranks = plan.Pieces.Select(p => p.Rank).ToList();
        Assert.Equal(ranks.OrderBy(r => r), ranks);
    }

    [Fact]
    public void A_replicated_plan_gives_every_rank_everything()
    {
        var plan = ShardPlanner.Plan(Numels, Sizes, ShardGranularity.NotSharded, 4);
        Assert.All(Enumerable.Range(0, 4), r => Assert.Equal(Numels.Sum(), plan.OwnedElements(r)));
    }

    /// <summary>The catalog declares the granularity once: matrix-whole methods by whole tensors, element-wise ones by ranges.</summary>
    [Fact]
    public void The_catalog_declares_whole_tensors_for_the_matrix_methods_and_ranges_for_the_element_wise_ones()
    {
        foreach (var kind in new[] { "galore", "qgalore", "subtrackpp", "swan", "muon", "adafactor", "adam_mini", "apollo" })
            Assert.Equal(ShardGranularity.WholeTensor, OptimizerCatalog.Find(kind)!.Sharding);
        Assert.Equal(ShardGranularity.Elements, OptimizerCatalog.Find("adamw")!.Sharding);
        Assert.Equal(ShardGranularity.Elements, OptimizerCatalog.Find("lion")!.Sharding);
        Assert.Equal(ShardGranularity.Blocks(4096), OptimizerCatalog.Find("adam8bit")!.Sharding);
        Assert.True(OptimizerCatalog.Find("gefen")!.Sharding.Replicated);
        // Ranges only where the rule is element-wise (the same capability FORGE's slabs need).
        Assert.All(OptimizerCatalog.All.Where(d => !d.Sharding.WholeTensors), d => Assert.True(d.Traits.HasFlag(OptimizerTraits.SlabStep), d.Kind));
    }
}
