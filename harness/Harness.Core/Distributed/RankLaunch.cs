namespace Harness.Core.Distributed;

/// <summary>
/// How the launcher starts a data-parallel run: the harness runs itself again once per GPU, with the same arguments
/// and the rank's identity in the environment (torchrun's model). Every rank gets <c>NCCL_NVLS_ENABLE=0</c>: NVLink
/// multicast (NVLS) can take a shared host's GPUs out of service, and the collectives here do not need it.
/// </summary>
public static class RankLaunch
{
    /// <summary>How long a rank waits in one collective (or for the rendezvous) before the run fails.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(5);

    /// <summary>How long the other ranks get to end by themselves after one failed, before they are killed.</summary>
    public static readonly TimeSpan KillGrace = TimeSpan.FromSeconds(30);

    /// <summary>One rank's command: program, arguments and the environment variables to add.</summary>
    public sealed record RankCommand(int Rank, string FileName, IReadOnlyList<string> Arguments, IReadOnlyDictionary<string, string> Environment);

    /// <summary>
    /// The commands of all ranks. <paramref name="processPath"/> and <paramref name="commandLine"/> are this process's
    /// (<c>Environment.ProcessPath</c>, <c>Environment.GetCommandLineArgs()</c>): under <c>dotnet harness.dll</c> the
    /// rank runs the host with the assembly again; an apphost or a published harness is its own program, and the first
    /// element (its own path) is dropped.
    /// </summary>
    public static IReadOnlyList<RankCommand> Commands(string processPath, IReadOnlyList<string> commandLine, int worldSize, string rendezvous)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(worldSize, 2);
        var viaHost = Path.GetFileNameWithoutExtension(processPath) == "dotnet" && commandLine.Count > 0
            && commandLine[0].EndsWith(".dll", StringComparison.OrdinalIgnoreCase);
        var arguments = viaHost ? commandLine.ToList() : commandLine.Skip(1).ToList();
        return Enumerable.Range(0, worldSize).Select(rank => new RankCommand(rank, processPath, arguments, new Dictionary<string, string>
        {
            [RankEnvironment.RankVariable] = rank.ToString(System.Globalization.CultureInfo.InvariantCulture),
            [RankEnvironment.WorldSizeVariable] = worldSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            [RankEnvironment.RendezvousVariable] = rendezvous,
            ["NCCL_NVLS_ENABLE"] = "0",
        })).ToList();
    }

    /// <summary>Why <paramref name="requested"/> ranks cannot run on a machine with <paramref name="available"/> CUDA devices (null when they can).</summary>
    public static string? DeviceProblem(int requested, int available) =>
        requested <= available ? null
        : $"needs {requested} CUDA devices (one process per GPU), this machine has {available}";
}
