using Harness.Core.Devices;
using Harness.Core.Planning;
using Harness.Results;
using Harness.Core.Running;

namespace Harness.Core.Packs;

/// <summary>
/// Plans and runs the experiments a pack needs at one scale through the ordinary <see cref="Planner"/> and
/// <see cref="SweepRunner"/>, so completed runs are found by their run id and reused. An experiment runs only
/// when a claim that can run needs it: claims waiting on a feature (<see cref="PaperClaim.WaitsOn"/>) run nothing.
/// </summary>
public sealed class PackRunner(ResultStore store, IRunObserver observer, string? cacheDirectory = null)
{
    /// <summary>The experiments to run at <paramref name="scale"/> on <paramref name="resolvedDevice"/>, in pack order, each planned.</summary>
    public static IReadOnlyList<PackRunPlan> Plan(LoadedPack pack, PackScale scale, string resolvedDevice)
    {
        var needed = pack.Pack.Claims.Where(c => c.WaitsOn().Count == 0).Select(c => c.Experiment).ToHashSet(StringComparer.Ordinal);
        return pack.Pack.Experiments
            .Where(e => needed.Contains(e.Id) && pack.Experiments.ContainsKey((e.Id, scale)))
            .Select(e =>
            {
                var config = pack.Experiments[(e.Id, scale)];
                return new PackRunPlan(e.Id, config, Planner.Plan(config, resolvedDevice));
            })
            .ToList();
    }

    /// <summary>Runs every plan in order; one result per plan.</summary>
    public IReadOnlyList<SweepResult> Run(IReadOnlyList<PackRunPlan> plans, DeviceSession session, Provenance provenance, CancellationToken cancel)
    {
        var runner = new SweepRunner(store, observer, cacheDirectory);
        return plans.Select(p => runner.Run(p.Config, p.Runs, session, provenance, cancel)).ToList();
    }

    /// <summary>
    /// Where a scale runs: smoke on the CPU by design; the other scales on CUDA, never falling back to the CPU (then
    /// nothing runs and every claim reads <c>not run: needs a GPU</c>).
    /// </summary>
    public static (TorchSharp.torch.Device Device, string? NotRun) DeviceFor(PackScale scale)
    {
        var device = Devices.DeviceResolver.Resolve(scale == PackScale.Smoke ? "cpu" : "auto");
        return (device, scale != PackScale.Smoke && device.type != TorchSharp.DeviceType.CUDA ? "needs a GPU" : null);
    }
}
