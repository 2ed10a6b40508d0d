using System.CommandLine;
using Harness.Core.Devices;
using static TorchSharp.torch;

namespace Harness.Cli.Commands;

/// <summary>
/// <c>harness env</c>: what this process would run on: the libtorch found (and whether it fits
/// TorchSharp), CUDA availability, and on CUDA whether the native probe builds. Exit 2 when the
/// libtorch cannot be used.
/// </summary>
public static class EnvCommand
{
    public static Command Create()
    {
        var command = new Command("env", "show the libtorch, devices and measurement probe this process would use");
        command.SetAction(_ =>
        {
            var libTorch = LibTorchDiscovery.Discover(Environment.GetEnvironmentVariable(LibTorchDiscovery.EnvironmentVariable));
            Console.WriteLine($"libtorch: {libTorch.Source}{(libTorch.Version is { } v ? $", version {v}" : "")}");
            if (libTorch.Warning is { } w) Console.WriteLine($"  warning: {w}");
            if (libTorch.Problem is { } p)
            {
                Console.Error.WriteLine($"harness: libtorch: {p}");
                return ExitCodes.BadInput;
            }
            Console.WriteLine($".NET {Environment.Version}, TorchSharp {typeof(TorchSharp.torch).Assembly.GetName().Version}, built for libtorch {LibTorchDiscovery.ExpectedVersion}");
            var available = cuda.is_available();
            Console.WriteLine($"cuda: {(available ? $"{cuda.device_count()} device(s)" : "not available")}");
            if (available)
            {
                using var session = DeviceSession.Open(CUDA, libTorch, DeviceSession.FindProbeSource(), HarnessCache.Directory());
                Console.WriteLine($"memory probe: {session.ProbeStatus}");
                Console.WriteLine($"optimizer kernels: {session.KernelStatus}");
                Console.WriteLine($"fused_backward: {session.ForgeStatus}");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

}
