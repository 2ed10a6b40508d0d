namespace Harness.Experiments.Workloads;

/// <summary>
/// Independent generator seeds from one run seed, one per purpose (init, train draws, validation draws),
/// so that drawing from one stream never shifts another: an extra validation batch leaves the training
/// batch sequence unchanged.
/// </summary>
internal static class SeedStreams
{
    public const ulong Init = 1, TrainBatches = 2, ValidationBatches = 3;

    /// <summary>SplitMix64 of (seed, stream): nearby seeds give unrelated streams.</summary>
    public static ulong Derive(int seed, ulong stream)
    {
        var z = unchecked((ulong)(uint)seed * 0x9E3779B97F4A7C15UL + stream * 0xD1B54A32D192ED03UL + 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }
}
