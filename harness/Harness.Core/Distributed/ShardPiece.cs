namespace Harness.Core.Distributed;

/// <summary>
/// Elements [<see cref="Start"/>, <see cref="Start"/> + <see cref="Length"/>) of parameter <see cref="Parameter"/>
/// (its index, flattened row-major), whose optimizer state rank <see cref="Rank"/> owns and steps
/// (<see cref="AllRanks"/>: every rank keeps it, the state is replicated).
/// </summary>
public sealed record ShardPiece(int Parameter, long Start, long Length, int Rank)
{
    public const int AllRanks = -1;

    /// <summary>True when the piece is the whole tensor of <paramref name="numel"/> elements.</summary>
    public bool IsWhole(long numel) => Start == 0 && Length == numel;
}
