using Harness.Core.Config;
using Harness.Core.Devices;
using Harness.Core.Planning;
using Harness.Results;
using Harness.Core.Running;
using Harness.Tests.Core;
using static TorchSharp.torch;

namespace Harness.Tests.Workloads;

public sealed class SmokeConfigTests
{
    // fused-emulated.yaml compares implementations and needs the emulated kernels: Kernels/EmulatedRunTests runs it whole.
    public static TheoryData<string> Configs => new(
        Directory.GetFiles(Path.Combine(TestPaths.RepoRoot(), "configs", "smoke"), "*.yaml").Select(Path.GetFileName)
            .Where(f => f != "fused-emulated.yaml").Order(StringComparer.Ordinal)!);

    [Theory]
    [MemberData(nameof(Configs))]
    public void Each_smoke_config_loads_and_runs_a_few_steps(string file)
    {
        var config = ConfigLoader.Load(Path.Combine(TestPaths.RepoRoot(), "configs", "smoke", file),
            ["training.steps=3", "training.eval_every=3", "training.log_every=1", "training.eval_batches=1", "training.timing_warmup_steps=1"]);
        using var dir = new TestConfigs.TempDir();
        var store = new ResultStore(dir.Path);
        var result = new SweepRunner(store, new NullRunObserver(), Path.Combine(dir.Path, "cache"))
            .Run(config, Planner.Plan(config, "cpu"), CPU, ProvenanceProbe.Collect(CPU), CancellationToken.None);
        var row = Assert.Single(ResultStore.ReadSummary(store.SummaryPath(config.Name)));
        Assert.True(result.AllCompleted, $"{file}: {row.Status}");
        Assert.Equal(3, row.Steps);
        Assert.True(double.IsFinite(row.FinalEvalLoss!.Value), $"{file}: final eval loss {row.FinalEvalLoss}");
    }
}
