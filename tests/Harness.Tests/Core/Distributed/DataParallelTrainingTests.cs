using Harness.Core.Distributed;
using Harness.Core.Running;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using Harness.Optimizers.AdamW;
using Harness.Optimizers.Muon;
using static TorchSharp.torch;

namespace Harness.Tests.Core.Distributed;

/// <summary>
/// Data-parallel training through the in-process collective (the test double) against one device at the same global
/// batch. Tolerance: the ranks' mean of half-batch gradients differs from the full-batch gradient by float32 summation
/// order only; over three steps at lr 1e-3 the losses agree to 2e-6 (4 ulps of a loss near 5.5; measured 4.8e-7) and
/// the weights to 1e-6 absolute (measured 9e-8 with AdamW, 1.2e-7 with Muon; one step moves a weight by up to 1e-3).
/// </summary>
public sealed class DataParallelTrainingTests
{
    private const int Steps = 3, GlobalBatch = 8;
    private const double Lr = 1e-3;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private static LanguageModelWorkload Tiny() =>
        new(new LlamaSpec { SeqLen = 16, Hidden = 32, Heads = 2, Layers = 2, Ffn = 64 }, new WorkloadContext(5, CPU, ScalarType.Float32, GlobalBatch));

    private sealed record Outcome(float[] Losses, float[][] Weights, long StateBytes, long ExpectedStateBytes, long OwnedElements, float StartChecksum);

    private static float[][] Weights(IWorkload w) => w.Parameters.Select(p => p.Value.detach().reshape(-1).data<float>().ToArray()).ToArray();

    private static Outcome OneDevice(string kind, OptimizerOptions options)
    {
        using var w = Tiny();
        var d = OptimizerCatalog.Find(kind)!;
        using var optimizer = d.Create(w.Parameters, options);
        var driver = new StandardStepDriver(new SynchronizedClock(() => { }), 0);
        var losses = new List<float>();
        for (var s = 0; s < Steps; s++)
        {
            using var scope = NewDisposeScope();
            using var batch = w.NextBatch(Split.Train);
            losses.Add(driver.TrainStep(w, optimizer, [batch], Lr, new StepTimings()).item<float>());
        }
        return new([.. losses], Weights(w), optimizer.StateBytes, d.ExpectedStateBytes(w.Parameters, options), w.Parameters.Sum(p => p.Value.numel()), 0);
    }

    private static IReadOnlyList<Outcome> Parallel(string kind, OptimizerOptions options, int world) =>
        InProcessCollectiveGroup.Run(world, Timeout, c =>
        {
            using var w = Tiny();
            var checksum = w.Parameters.Sum(p => p.Value.sum().item<float>());
            DataParallel.SyncParameters(w.Parameters, c);
            var d = OptimizerCatalog.Find(kind)!;
            var plan = ShardPlanner.Plan(w.Parameters, d.Sharding, world);
            using var optimizer = new ShardedOptimizer(w.Parameters, plan, c, ps => d.Create(ps, options));
            var driver = new DataParallelStepDriver(c, new GradientBuckets(w.Parameters, bucketBytes: 64 << 10), new SynchronizedClock(() => { }), 0);
            var losses = new List<float>();
            for (var s = 0; s < Steps; s++)
            {
                using var scope = NewDisposeScope();
                using var batch = w.NextBatch(Split.Train);
                losses.Add(driver.TrainStep(w, optimizer, [batch], Lr, new StepTimings()).item<float>());
            }
            return new Outcome([.. losses], Weights(w), optimizer.StateBytes, d.ExpectedStateBytes(optimizer.OwnedParameters, options),
                plan.OwnedElements(c.Rank), checksum);
        });

    private static void AssertClose(Outcome one, Outcome rank, double weightTolerance)
    {
        var worst = one.Weights.Zip(rank.Weights).Max(t => t.First.Zip(t.Second).Max(e => Math.Abs(e.First - e.Second)));
        var losses = one.Losses.Zip(rank.Losses).Max(t => Math.Abs(t.First - t.Second));
        Assert.True(losses <= 2e-6 && worst <= weightTolerance, $"largest loss difference {losses:E3}, weight difference {worst:E3}");
    }

    /// <summary>AdamW sharded by element ranges over 2 ranks trains as one device at the global batch, and each rank holds half the state.</summary>
    [Fact]
    public void Two_ranks_with_zero1_adamw_train_as_one_device_and_hold_half_the_state_each()
    {
        var options = new AdamWOptions { Lr = Lr, WeightDecay = 0.1 };
        var one = OneDevice("adamw", options);
        var ranks = Parallel("adamw", options, 2);
        foreach (var r in ranks) AssertClose(one, r, 1e-6);
        // The ranks end with bit-identical weights (every piece broadcast from its one owner) and start from the same seed.
        Assert.Equal(ranks[0].Weights, ranks[1].Weights);
        Assert.Equal(ranks[0].StartChecksum, ranks[1].StartChecksum);
        // ZeRO-1: AdamW keeps 2 float32 moments per owned element; the ranks split the elements within one element.
        Assert.All(ranks, r => Assert.Equal(8 * r.OwnedElements, r.StateBytes));
        Assert.All(ranks, r => Assert.Equal(r.ExpectedStateBytes, r.StateBytes));
        Assert.Equal(one.StateBytes, ranks.Sum(r => r.StateBytes));
        Assert.InRange(ranks[0].OwnedElements - one.OwnedElements / 2, -1, 1);
    }

    /// <summary>Muon needs whole matrices: sharded by whole tensors it still trains as one device, and the state splits by tensors.</summary>
    [Fact]
    public void Two_ranks_with_whole_tensor_zero1_muon_train_as_one_device()
    {
        var options = new MuonOptions { Lr = Lr };
        var one = OneDevice("muon", options);
        var ranks = Parallel("muon", options, 2);
        foreach (var r in ranks) AssertClose(one, r, 1e-6);
        Assert.All(ranks, r => Assert.Equal(r.ExpectedStateBytes, r.StateBytes));
        Assert.Equal(one.StateBytes, ranks.Sum(r => r.StateBytes));
        Assert.All(ranks, r => Assert.InRange(r.StateBytes, one.StateBytes / 4, one.StateBytes * 3 / 4));
    }

    [Fact]
    public void A_rank_trains_on_its_equal_share_of_the_global_batch_and_an_uneven_split_is_refused()
    {
        using var batch = new Batch(arange(24).reshape(6, 4), arange(24).reshape(6, 4) + 1);
        using var second = BatchSharding.Slice(batch, 1, 3);
        Assert.Equal([8L, 9, 10, 11, 12, 13, 14, 15], second.Inputs.reshape(-1).data<long>().ToArray());
        Assert.Equal(9L, second.Targets[0, 0].item<long>());
        Assert.Equal("a global batch of 6 rows does not split evenly over 4 ranks", Assert.Throws<ArgumentException>(() => BatchSharding.Slice(batch, 0, 4)).Message);
        Assert.Null(BatchSharding.Problem(8, 2));
        Assert.Equal("batch_size 6 is not a multiple of devices 4 (each rank trains on an equal share)", BatchSharding.Problem(6, 4));
    }

    [Fact]
    public void Rank_local_seeds_differ_per_rank_and_run_and_are_reproducible_while_the_shared_seed_is_the_run_seed()
    {
        var local = Enumerable.Range(0, 64).Select(r => RankSeeds.Local(7, r)).ToList();
        Assert.Equal(64, local.Distinct().Count());
        Assert.Equal(local, Enumerable.Range(0, 64).Select(r => RankSeeds.Local(7, r)));
        Assert.NotEqual(RankSeeds.Local(7, 0), RankSeeds.Local(8, 0));
        Assert.All(local, s => Assert.True(s >= 0));
        Assert.Equal(7, RankSeeds.Shared(7));
    }

    /// <summary>Rank 0 writes one run folder: each rank's meter as NAME.rankR and NAME as the largest (what one device must hold).</summary>
    [Fact]
    public void Per_rank_meters_are_gathered_to_every_rank_and_merged_into_rows()
    {
        var gathered = InProcessCollectiveGroup.Run(3, Timeout, c => DataParallel.Gather(1000.0 * (c.Rank + 1), c, CPU));
        Assert.All(gathered, g => Assert.Equal([1000.0, 2000.0, 3000.0], g));
        var rows = DataParallel.PerRank("state_bytes", gathered[0], "bytes", "M1").ToList();
        Assert.Equal(["state_bytes", "state_bytes.rank0", "state_bytes.rank1", "state_bytes.rank2"], rows.Select(r => r.Name));
        Assert.Equal([3000.0, 1000.0, 2000.0, 3000.0], rows.Select(r => r.Value!.Value));
    }
}
