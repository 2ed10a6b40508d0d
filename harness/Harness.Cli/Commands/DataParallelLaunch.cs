using Harness.Core.Config;
using Harness.Core.Devices;
using Harness.Core.Distributed;

namespace Harness.Cli.Commands;

/// <summary>
/// <c>run --gpus N</c>: the launcher half (start one harness per GPU and wait) and the rank half (join the NCCL
/// communicator). Parses nothing new and prints the outcome; the work is in Harness.Core.Distributed.
/// </summary>
internal static class DataParallelLaunch
{
    /// <summary>Starts the ranks (this command line again, with each rank's environment) and waits for all of them.</summary>
    public static int Launch(ExperimentConfig experiment, string output)
    {
        var available = TorchSharp.torch.cuda.is_available() ? TorchSharp.torch.cuda.device_count() : 0;
        if (RankLaunch.DeviceProblem(experiment.Devices, available) is { } problem)
        {
            Console.Error.WriteLine($"harness: --gpus {experiment.Devices}: {problem}");
            return ExitCodes.BadInput;
        }
        var rendezvous = Path.Combine(Path.GetFullPath(output), ".rendezvous", Guid.NewGuid().ToString("N"));
        var commands = RankLaunch.Commands(Environment.ProcessPath!, Environment.GetCommandLineArgs(), experiment.Devices, rendezvous);
        Console.WriteLine($"{experiment.Name}: {experiment.Devices} ranks, one process per GPU (NCCL, NCCL_NVLS_ENABLE=0); rank 0 writes {output}");
        var outcome = RankProcesses.Run(commands, RankLaunch.KillGrace);
        if (Directory.Exists(rendezvous)) Directory.Delete(rendezvous, recursive: true);
        if (outcome.Problem is { } failed)
        {
            Console.Error.WriteLine($"harness: {failed}");
            return ExitCodes.Failed;
        }
        return ExitCodes.Ok;
    }

    /// <summary>Rank 0 writes the run folders; the other ranks keep their (identical) files apart, under <c>.ranks/</c>.</summary>
    public static string StoreRoot(string output, RankEnvironment rank) =>
        rank.Rank == 0 ? output : Path.Combine(output, ".ranks", $"rank{rank.Rank}");

    /// <summary>This rank's NCCL communicator, or null with the problem printed.</summary>
    public static NcclCollective? Join(RankEnvironment rank, LibTorchInfo libTorch)
    {
        var build = NcclLibrary.EnsureBuilt(HarnessCache.Directory(), libTorch, Environment.GetEnvironmentVariable(NcclLibrary.HomeVariable));
        if (build.LibraryPath is not { } library)
        {
            Console.Error.WriteLine($"harness: rank {rank.Rank}: NCCL library: {build.Status}");
            return null;
        }
        try
        {
            return new NcclCollective(library, rank, rank.Rank, RankLaunch.DefaultTimeout);
        }
        catch (CollectiveException e)
        {
            Console.Error.WriteLine($"harness: {e.Message}");
            return null;
        }
    }
}
