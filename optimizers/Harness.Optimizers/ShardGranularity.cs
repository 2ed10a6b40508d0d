namespace Harness.Optimizers;

/// <summary>
/// How an optimizer's state may be split across data-parallel ranks (ZeRO-1: each rank owns and steps a slice of the
/// state, then the parameters are gathered). Declared once per catalog line (<see cref="OptimizerDescriptor.Sharding"/>).
/// <list type="bullet">
/// <item><see cref="WholeTensors"/>: the update of a tensor needs all of it (an SVD, a Newton–Schulz iteration, a
/// whitening, a factored moment), so a rank owns whole tensors, balanced by bytes.</item>
/// <item>Element ranges (<see cref="BlockElements"/> = 1): an element-wise rule; any flat range of a tensor steps exactly
/// as the whole tensor does.</item>
/// <item>Blocks (<see cref="BlockElements"/> &gt; 1): element-wise, but state is stored per block of that many elements
/// counted from the start of each tensor (8-bit Adam's quantization blocks), so ranges start on block boundaries.</item>
/// <item><see cref="Replicated"/>: not sharded; every rank keeps the full state (plain DDP). For state learned from all
/// gradients at once (Gefen's global codebook), which a rank that sees only its slice would learn differently.</item>
/// </list>
/// </summary>
public sealed record ShardGranularity(bool WholeTensors, long BlockElements, bool Replicated = false)
{
    /// <summary>Whole tensors per rank (the safe default: correct for every optimizer).</summary>
    public static ShardGranularity WholeTensor { get; } = new(true, 0);

    /// <summary>Flat element ranges (element-wise rules).</summary>
    public static ShardGranularity Elements { get; } = new(false, 1);

    /// <summary>No sharding: every rank holds the whole state.</summary>
    public static ShardGranularity NotSharded { get; } = new(true, 0, Replicated: true);

    /// <summary>Flat ranges aligned to blocks of <paramref name="elements"/> counted from each tensor's start.</summary>
    public static ShardGranularity Blocks(long elements) =>
        elements >= 1 ? new(false, elements) : throw new ArgumentOutOfRangeException(nameof(elements), elements, "a block has at least one element");

    public override string ToString() =>
        Replicated ? "replicated" : WholeTensors ? "whole-tensors" : BlockElements == 1 ? "elements" : $"blocks of {BlockElements}";
}
