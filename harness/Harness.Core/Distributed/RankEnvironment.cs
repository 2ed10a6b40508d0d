namespace Harness.Core.Distributed;

/// <summary>
/// Who this process is in a data-parallel launch: its rank, the world size and the rendezvous folder, passed by the
/// launcher (<see cref="RankLaunch"/>) in environment variables. Read once, at the composition root.
/// </summary>
public sealed record RankEnvironment(int Rank, int WorldSize, string Rendezvous)
{
    public const string RankVariable = "HARNESS_RANK", WorldSizeVariable = "HARNESS_WORLD_SIZE", RendezvousVariable = "HARNESS_RENDEZVOUS";

    /// <summary>The rank this process was launched as, null for an ordinary (single-process) run; throws on inconsistent variables.</summary>
    public static RankEnvironment? From(Func<string, string?> variable)
    {
        var (rank, world, rendezvous) = (variable(RankVariable), variable(WorldSizeVariable), variable(RendezvousVariable));
        if (rank is null && world is null && rendezvous is null) return null;
        if (!int.TryParse(world, out var w) || w < 1 || !int.TryParse(rank, out var r) || r < 0 || r >= w || string.IsNullOrEmpty(rendezvous))
            throw new ArgumentException($"{RankVariable}={rank}, {WorldSizeVariable}={world}, {RendezvousVariable}={rendezvous}: "
                + "a rank needs all three, with 0 <= rank < world size");
        return new RankEnvironment(r, w, rendezvous);
    }
}
