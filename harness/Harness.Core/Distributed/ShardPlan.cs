using Harness.Optimizers;

namespace Harness.Core.Distributed;

/// <summary>
/// Which rank owns which part of the optimizer state (ZeRO stage 1), made by <see cref="ShardPlanner"/>. The pieces
/// cover every element of every parameter exactly once, in parameter order.
/// </summary>
public sealed record ShardPlan(int WorldSize, ShardGranularity Granularity, IReadOnlyList<ShardPiece> Pieces)
{
    /// <summary>The pieces whose state <paramref name="rank"/> keeps and steps.</summary>
    public IEnumerable<ShardPiece> Owned(int rank) => Pieces.Where(p => p.Rank == rank || p.Rank == ShardPiece.AllRanks);

    /// <summary>Parameter elements whose state <paramref name="rank"/> keeps.</summary>
    public long OwnedElements(int rank) => Owned(rank).Sum(p => p.Length);

    /// <summary>Parameter bytes whose state <paramref name="rank"/> keeps, given each parameter's element size.</summary>
    public long OwnedBytes(int rank, IReadOnlyList<long> elementSizes) => Owned(rank).Sum(p => p.Length * elementSizes[p.Parameter]);
}
