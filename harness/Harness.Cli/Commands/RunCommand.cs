using System.CommandLine;
using System.Globalization;
using Harness.Cli.Output;
using Harness.Cli.Testing;
using Harness.Core.Config;
using Harness.Core.Devices;
using Harness.Core.Distributed;
using Harness.Core.Planning;
using Harness.Results;
using Harness.Core.Running;
using Spectre.Console;

namespace Harness.Cli.Commands;

/// <summary><c>harness run CONFIG</c>: plan, run (reusing completed runs), and print the summary.</summary>
public static class RunCommand
{
    public static Command Create()
    {
        var config = CommonOptions.ConfigArgument();
        var set = CommonOptions.SetOption();
        var device = new Option<string?>("--device") { Description = "auto | cpu | cuda | cuda:N (overrides the config)" };
        var output = new Option<string>("--out") { Description = "results root (default: runs)", DefaultValueFactory = _ => "runs" };
        // A test seam (crash tests kill the process there); hidden from --help.
        var pauseAt = new Option<string?>("--pause-at") { Hidden = true };
        var gpus = new Option<int?>("--gpus") { Description = "data-parallel training on N GPUs, one process each (as devices: N); batch_size is the global batch" };
        var tensorboard = new Option<bool>("--tensorboard") { Description = "also write TensorBoard scalars to <out>/<experiment>/tensorboard/<run-id>/ (as logging.tensorboard: true)" };
        var command = new Command("run", "run an experiment; finished runs are reused") { config, set, device, gpus, output, tensorboard, pauseAt };
        command.SetAction(parse =>
        {
            var experiment = ConfigLoader.Load(parse.GetValue(config)!, parse.GetValue(set) ?? []);
            if (parse.GetValue(tensorboard)) experiment = experiment with { Logging = experiment.Logging with { Tensorboard = true } };
            var requested = parse.GetValue(device) ?? experiment.Device;
            if (!DeviceResolver.IsValidSyntax(requested))
            {
                Console.Error.WriteLine($"harness: --device: unknown device '{requested}' (expected auto, cpu, cuda or cuda:N)");
                return ExitCodes.BadInput;
            }
            if (parse.GetValue(pauseAt) is { } point && PausePoints.Check(point) is { } badPoint)
            {
                Console.Error.WriteLine($"harness: {badPoint}");
                return ExitCodes.BadInput;
            }
            if (parse.GetValue(gpus) is { } n) experiment = experiment with { Devices = n };
            if (ConfigLoader.DataParallelProblem(experiment, experiment.Optimizers) is { } parallelProblem)
            {
                Console.Error.WriteLine($"harness: {(parse.GetValue(gpus) is { } g ? $"--gpus {g}" : "devices")}: {parallelProblem}");
                return ExitCodes.BadInput;
            }
            if (DiscoverLibTorch() is not { } libTorch) return ExitCodes.BadInput;
            var rank = experiment.Devices > 1 ? RankEnvironment.From(Environment.GetEnvironmentVariable) : null;
            if (experiment.Devices > 1 && rank is null) return DataParallelLaunch.Launch(experiment, parse.GetValue(output)!);
            var torchDevice = rank is null ? DeviceResolver.Resolve(requested) : new TorchSharp.torch.Device(TorchSharp.DeviceType.CUDA, rank.Rank);
            var plan = Planner.Plan(experiment, torchDevice.ToString());
            var store = new ResultStore(rank is null ? parse.GetValue(output)! : DataParallelLaunch.StoreRoot(parse.GetValue(output)!, rank));
            var (session, provenance) = OpenSession(torchDevice, libTorch);
            using var sessionLifetime = session;
            using var collective = rank is null ? null : DataParallelLaunch.Join(rank, libTorch);
            if (rank is not null && collective is null) return ExitCodes.Failed;
            IFaultInjector? faults = parse.GetValue(pauseAt) is { } at ? new PausePoints(plan, at) : null;
            Console.WriteLine($"{experiment.Name}: {plan.Count} run(s) on {torchDevice} ({provenance.DeviceName}) -> {store.ExperimentDir(experiment.Name)}");
            if (session.IsCuda) Console.WriteLine($"measurement: {session.ProbeStatus}; optimizer kernels: {session.KernelStatus}");
            else if (session.Kernels is not null) Console.WriteLine($"optimizer kernels: {session.KernelStatus}");
            if (session.IsCuda && plan.Any(r => r.Spec.StepMode == StepMode.FusedBackward)) Console.WriteLine($"fused_backward: {session.ForgeStatus}");

            using var cancel = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) =>
            {
                e.Cancel = true; // finish writing the current run's files, then stop
                cancel.Cancel();
                Console.Error.WriteLine("harness: interrupted; saving what has been computed");
            };
            Console.CancelKeyPress += onCancel;
            SweepResult result;
            try
            {
                result = Interactive() && collective is null
                    ? RunLive(store, experiment, plan, session, provenance, faults, cancel.Token)
                    : new SweepRunner(store, new PlainProgress(rank is { Rank: > 0 } ? TextWriter.Null : Console.Out), HarnessCache.Directory(), faults, collective)
                        .Run(experiment, plan, session, provenance, cancel.Token);
            }
            catch (OperationCanceledException)
            {
                store.RebuildSummary(experiment.Name);
                return ExitCodes.Failed;
            }
            finally
            {
                Console.CancelKeyPress -= onCancel;
            }
            if (rank is not { Rank: > 0 }) PrintSummary(store, experiment.Name, plan);
            return result.AllCompleted ? ExitCodes.Ok : ExitCodes.Failed;
        });
        return command;
    }

    /// <summary>The libtorch this process loads (warnings printed); null, with the problem printed, when it cannot load one.</summary>
    internal static LibTorchInfo? DiscoverLibTorch()
    {
        var libTorch = LibTorchDiscovery.Discover(Environment.GetEnvironmentVariable(LibTorchDiscovery.EnvironmentVariable));
        if (libTorch.Problem is { } problem)
        {
            Console.Error.WriteLine($"harness: libtorch: {problem}");
            return null;
        }
        if (libTorch.Warning is { } warning) Console.Error.WriteLine($"harness: warning: {warning}");
        return libTorch;
    }

    /// <summary>The device session (measurement probe, fused kernels) and the provenance every run records.</summary>
    internal static (DeviceSession Session, Provenance Provenance) OpenSession(TorchSharp.torch.Device torchDevice, LibTorchInfo libTorch)
    {
        // HARNESS_EMULATED_KERNELS=1 attaches the host-emulated kernels to CPU runs (cuda-fused verified without a GPU).
        var emulated = EmulatedKernelBuilder.Requested(Environment.GetEnvironmentVariable(EmulatedKernelBuilder.EnvironmentVariable));
        var session = DeviceSession.Open(torchDevice, libTorch, DeviceSession.FindProbeSource(), HarnessCache.Directory(), emulated);
        var provenance = ProvenanceProbe.Collect(torchDevice) with
        {
            LibTorchSource = libTorch.Source + (libTorch.Version is { } v ? $" ({v})" : ""),
            MemoryProbe = session.ProbeStatus,
        };
        return (session, provenance);
    }

    /// <summary>A live bar only on a real terminal; plain lines when redirected or under CI.</summary>
    private static bool Interactive() =>
        Environment.GetEnvironmentVariable("CI") is null or "" && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

    private static SweepResult RunLive(ResultStore store, ExperimentConfig experiment, IReadOnlyList<PlannedRun> plan,
        DeviceSession session, Provenance provenance, IFaultInjector? faults, CancellationToken cancel)
    {
        SweepResult? result = null;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx => result = new SweepRunner(store, new LiveProgress(ctx), HarnessCache.Directory(), faults).Run(experiment, plan, session, provenance, cancel));
        return result!;
    }

    private static void PrintSummary(ResultStore store, string experiment, IReadOnlyList<PlannedRun> plan)
    {
        var ids = plan.Select(p => p.RunId).ToHashSet(StringComparer.Ordinal);
        var rows = ResultStore.ReadSummary(store.SummaryPath(experiment)).Where(r => ids.Contains(r.RunId)).ToList();
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 200; // logs are not 80 columns wide
        var table = new Table().AddColumns("run", "configuration", "seed", "status", "eval loss", "state", "tokens/s", "step ms p50", "opt ms p50");
        var c = CultureInfo.InvariantCulture;
        foreach (var r in rows)
            table.AddRow(r.RunId, Markup.Escape(r.Label), r.Seed.ToString(c), Markup.Escape(r.Status + (r.Message.Length > 0 ? $" ({r.Message})" : "")),
                r.FinalEvalLoss?.ToString("F4", c) ?? "—", Reports.ReportBuilder.Bytes(r.StateBytes), r.TokensPerS?.ToString("N0", c) ?? "—",
                r.StepMsP50?.ToString("F1", c) ?? "—", r.OptimizerStepMsP50?.ToString("F2", c) ?? "—");
        AnsiConsole.Write(table);
        Console.WriteLine($"summary: {store.SummaryPath(experiment)}");
    }
}
