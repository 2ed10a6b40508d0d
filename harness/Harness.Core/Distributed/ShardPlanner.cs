using Harness.Optimizers;

namespace Harness.Core.Distributed;

/// <summary>
/// Splits optimizer state over ranks as the optimizer's catalog line allows (<see cref="ShardGranularity"/>):
/// whole tensors balanced by bytes (largest first, each to the least-loaded rank: the longest-processing-time rule, at
/// most 4/3 of the best balance), or one contiguous range of the parameters' concatenated elements per rank
/// (DeepSpeed ZeRO-1's flat partition) with its ends moved down to a block boundary of the tensor they fall in.
/// </summary>
public static class ShardPlanner
{
    /// <summary>The plan for parameters of the given element counts and element sizes.</summary>
    public static ShardPlan Plan(IReadOnlyList<long> numels, IReadOnlyList<long> elementSizes, ShardGranularity granularity, int worldSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(worldSize, 1);
        if (numels.Count != elementSizes.Count) throw new ArgumentException("one element size per parameter");
        if (granularity.Replicated)
            return new(worldSize, granularity, numels.Select((n, i) => new ShardPiece(i, 0, n, ShardPiece.AllRanks)).ToList());
        return granularity.WholeTensors
            ? new(worldSize, granularity, WholeTensors(numels, elementSizes, worldSize))
            : new(worldSize, granularity, Ranges(numels, granularity.BlockElements, worldSize));
    }

    /// <summary>The plan for these parameters.</summary>
    public static ShardPlan Plan(IReadOnlyList<NamedParameter> parameters, ShardGranularity granularity, int worldSize) =>
        Plan(parameters.Select(p => p.Value.numel()).ToList(), parameters.Select(p => p.Value.element_size()).ToList(), granularity, worldSize);

    private static List<ShardPiece> WholeTensors(IReadOnlyList<long> numels, IReadOnlyList<long> elementSizes, int worldSize)
    {
        var load = new long[worldSize];
        var owner = new int[numels.Count];
        foreach (var i in Enumerable.Range(0, numels.Count).OrderByDescending(i => numels[i] * elementSizes[i]).ThenBy(i => i))
        {
            var least = Array.IndexOf(load, load.Min());
            owner[i] = least;
            load[least] += numels[i] * elementSizes[i];
        }
        return numels.Select((n, i) => new ShardPiece(i, 0, n, owner[i])).ToList();
    }

    private static List<ShardPiece> Ranges(IReadOnlyList<long> numels, long block, int worldSize)
    {
        var starts = new long[numels.Count + 1];
        for (var i = 0; i < numels.Count; i++) starts[i + 1] = starts[i] + numels[i];
        var total = starts[^1];
        if (numels.Count == 0) return [];
        // Rank r owns [cut[r], cut[r+1]); the ideal cut r·total/N is moved down to a block boundary of its tensor.
        var cuts = new long[worldSize + 1];
        cuts[worldSize] = total;
        for (var r = 1; r < worldSize; r++)
        {
            var ideal = (long)((Int128)total * r / worldSize);
            var tensor = Array.FindLastIndex(starts, numels.Count - 1, numels.Count, s => s <= ideal);
            var snapped = tensor < 0 ? ideal : starts[tensor] + (ideal - starts[tensor]) / block * block;
            cuts[r] = Math.Max(snapped, cuts[r - 1]);
        }
        var pieces = new List<ShardPiece>();
        for (var i = 0; i < numels.Count; i++)
            for (var r = 0; r < worldSize; r++)
            {
                var from = Math.Max(cuts[r], starts[i]);
                var to = Math.Min(cuts[r + 1], starts[i + 1]);
                if (to > from) pieces.Add(new ShardPiece(i, from - starts[i], to - from, r));
            }
        return pieces;
    }
}
