using System.CommandLine;
using Harness.Core.Checks;
using Harness.Core.Devices;
using static TorchSharp.torch;

namespace Harness.Cli.Commands;

/// <summary>
/// <c>harness gpu-check</c>: runs <see cref="GpuChecks"/> (the GPU test category) on CUDA, one line per check and a
/// closing "N passed, M failed"; exit 0 only when all pass. <c>--only A,B</c> runs the checks whose name contains A or B.
/// </summary>
public static class GpuCheckCommand
{
    public static Command Create()
    {
        var only = new Option<string>("--only") { Description = "comma-separated texts: run only the checks whose name contains one" };
        var command = new Command("gpu-check", "run the GPU test category (needs CUDA)") { only };
        command.SetAction(parse =>
        {
            if (!cuda.is_available())
            {
                Console.Error.WriteLine("harness: gpu-check needs CUDA, which is not available here");
                return ExitCodes.BadInput;
            }
            var libTorch = LibTorchDiscovery.Discover(Environment.GetEnvironmentVariable(LibTorchDiscovery.EnvironmentVariable));
            using var session = DeviceSession.Open(CUDA, libTorch, DeviceSession.FindProbeSource(), HarnessCache.Directory());
            int passed = 0, failed = 0;
            foreach (var r in new GpuChecks(session, (parse.GetValue(only) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Run())
            {
                Console.WriteLine($"{(r.Ok ? "PASS" : "FAIL")} {r.Name}: {r.Detail}");
                if (r.Ok) passed++;
                else failed++;
            }
            Console.WriteLine($"gpu-check: {passed} passed, {failed} failed");
            return failed == 0 ? ExitCodes.Ok : ExitCodes.Failed;
        });
        return command;
    }
}
