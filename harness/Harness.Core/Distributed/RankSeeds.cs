namespace Harness.Core.Distributed;

/// <summary>
/// Seeds of a data-parallel run. The model's initialisation, the data order and the optimizer's own randomness use the
/// run seed on every rank, so all ranks build the same model and draw the same global batches (and
/// <see cref="DataParallel.SyncParameters"/> makes the start identical even so). Randomness that should differ per rank
/// (dropout masks, data augmentation) draws from <see cref="Local"/>.
/// </summary>
public static class RankSeeds
{
    /// <summary>The seed shared by all ranks: the run seed itself, so one device and N ranks start alike.</summary>
    public static int Shared(int runSeed) => runSeed;

    /// <summary>A rank's own seed: SplitMix64 of (run seed, rank), different per rank and per run seed.</summary>
    public static int Local(int runSeed, int rank)
    {
        var z = unchecked((ulong)(uint)runSeed * 0x9E3779B97F4A7C15UL + ((ulong)(uint)rank + 1) * 0xD1B54A32D192ED03UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return (int)((z ^ (z >> 31)) & int.MaxValue);
    }
}
