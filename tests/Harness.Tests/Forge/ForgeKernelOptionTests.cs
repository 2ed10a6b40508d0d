using Harness.Core.Config;
using Harness.Core.Devices;
using Harness.Core.Planning;
using Harness.Results;
using Harness.Core.Running;
using Harness.Optimizers.AdamW;
using Harness.Optimizers.Kernels;
using Harness.Tests.Core;
using Harness.Tests.Kernels;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Harness.Tests.Forge;

/// <summary>
/// <c>training.forge_kernel</c> (and an optimizer entry's <c>forge_kernel</c>): parsing, one-line errors with the file and
/// line, the run spec, the planner's skip, and the runner recording which kernel carried the fused layers.
/// </summary>
[Collection(EmulatedKernels.Collection)]
public sealed class ForgeKernelOptionTests(EmulatedKernels emulated, ITestOutputHelper output)
{
    private const string Yaml = """
        name: forge-kernels
        step_mode: fused_backward
        workload: { kind: llama, size: tiny }
        training:
          steps: 10
          forge_kernel: slabs
        optimizers:
          - { kind: adamw, label: forge-slabs }
          - { kind: adamw, label: forge-tile, forge_kernel: tile }
          - { kind: adamw, label: standard, step_mode: standard }
          - { kind: lion, label: lion-tile, forge_kernel: tile }
        """;

    [Fact]
    public void The_experiment_sets_the_kernel_an_entry_overrides_it_and_the_run_spec_carries_it()
    {
        var config = ConfigLoader.Parse(Yaml, "forge.yaml");
        Assert.Equal(ForgeKernelMode.Slabs, config.Training.ForgeKernel);
        Assert.Equal([null, ForgeKernelMode.Tile, null, ForgeKernelMode.Tile], config.Optimizers.Select(v => v.ForgeKernel));
        var plan = Planner.Plan(config, "cpu");
        Assert.Equal([ForgeKernelMode.Slabs, ForgeKernelMode.Tile, ForgeKernelMode.Slabs, ForgeKernelMode.Tile], plan.Select(r => r.Spec.Training.ForgeKernel));
        Assert.Equal("tile", (string)plan[1].Spec.ToJson()["training"]!["forge_kernel"]!);
        Assert.Equal(4, plan.Select(r => r.RunId).Distinct().Count());
        Assert.Null(plan[1].SkipReason);
        Assert.Contains("forge_kernel tile", plan[3].SkipReason);
        Assert.Contains("TileFusedLinear", plan[3].SkipReason);

        // Unset, the key stays out of the run spec: run ids of existing configs did not change.
        var unset = ConfigLoader.Parse(Yaml.Replace("  forge_kernel: slabs\n", "").Replace(", forge_kernel: tile", ""), "forge.yaml");
        Assert.Null(unset.Training.ForgeKernel);
        Assert.All(Planner.Plan(unset, "cpu"), r => Assert.False(r.Spec.ToJson()["training"]!.AsObject().ContainsKey("forge_kernel")));
    }

    [Theory]
    [InlineData("  forge_kernel: slabs", "  forge_kernel: tiles", 6, "training.forge_kernel")]
    [InlineData("label: forge-tile, forge_kernel: tile", "label: forge-tile, forge_kernel: fused", 9, "optimizers[1].forge_kernel")]
    public void A_bad_value_is_one_error_with_the_file_line_and_the_choices(string from, string to, int line, string key)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(Yaml.Replace(from, to), "forge.yaml"));
        var problem = Assert.Single(e.Problems);
        output.WriteLine(problem.ToString());
        Assert.Equal(line, problem.Line);
        Assert.StartsWith($"forge.yaml:{line}:", problem.ToString());
        Assert.Contains(key, problem.Message);
        foreach (var choice in new[] { "auto", "tile", "slabs" }) Assert.Contains(choice, problem.Message);
    }

    [Fact]
    public void Forge_kernel_on_an_entry_that_runs_the_standard_driver_is_an_error_at_its_line()
    {
        var yaml = Yaml.Replace("label: standard, step_mode: standard", "label: standard, step_mode: standard, forge_kernel: tile");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, "forge.yaml"));
        var problem = Assert.Single(e.Problems);
        output.WriteLine(problem.ToString());
        Assert.Equal(10, problem.Line);
        Assert.Contains("optimizers[2].forge_kernel", problem.Message);
        Assert.Contains("fused_backward", problem.Message);
    }

    /// <summary>
    /// Runs through the runner on CPU with the emulated kernels: the manifest's implementation says which FORGE kernel
    /// carried the fused layers; slabs and tile end at the same loss; <c>tile</c> without the kernels fails the run with the reason.
    /// </summary>
    [Fact]
    public void The_runner_records_the_kernel_and_tile_without_kernels_fails_the_run_saying_why()
    {
        using var dir = new TestConfigs.TempDir();
        var store = new ResultStore(dir.Path);
        var config = TestConfigs.Experiment("forge-kernels", 6,
        [
            // cuda-fused: implementation auto never takes the emulated build.
            new OptimizerVariant("adamw", "slabs", new AdamWOptions { Lr = 3e-3, WeightDecay = 0.1, Implementation = ImplementationChoice.CudaFused }, [], 0)
                { ForgeKernel = ForgeKernelMode.Slabs },
            new OptimizerVariant("adamw", "tile", new AdamWOptions { Lr = 3e-3, WeightDecay = 0.1, Implementation = ImplementationChoice.CudaFused }, [], 1)
                { ForgeKernel = ForgeKernelMode.Tile },
            TestConfigs.AdamW(3e-3, 0.1, "auto"),
            new OptimizerVariant("adamw", "tile-tensor-ops", new AdamWOptions { Lr = 3e-3, WeightDecay = 0.1, Implementation = ImplementationChoice.TensorOps }, [], 3)
                { ForgeKernel = ForgeKernelMode.Tile },
        ]) with { StepMode = StepMode.FusedBackward };
        using var session = DeviceSession.WithKernels(CPU, new FusedKernels(emulated.LibraryPath, 0), "emulated kernels");
        var result = new SweepRunner(store, new NullRunObserver()).Run(config, Planner.Plan(config, "cpu"), session,
            ProvenanceProbe.Collect(CPU), CancellationToken.None);
        Assert.False(result.AllCompleted);
        var rows = ResultStore.ReadSummary(store.SummaryPath("forge-kernels")).ToDictionary(r => r.Label);
        foreach (var r in rows.Values) output.WriteLine($"{r.Label}: {r.Status} [{r.Implementation}] {r.FinalEvalLoss} {r.Message}");
        Assert.Equal("cuda-fused (emulated); forge managed, slabs", rows["slabs"].Implementation);
        Assert.Equal("cuda-fused (emulated); forge managed, tile", rows["tile"].Implementation);
        // implementation auto never takes the emulated build: tensor ops, and so the slabs.
        Assert.Equal("tensor-ops; forge managed, slabs", rows["auto"].Implementation);
        Assert.All(new[] { "slabs", "tile", "auto" }, l => Assert.Equal("completed", rows[l].Status));
        Assert.Equal(rows["slabs"].FinalEvalLoss!.Value, rows["tile"].FinalEvalLoss!.Value, 1e-5);
        Assert.Equal(rows["slabs"].FinalEvalLoss!.Value, rows["auto"].FinalEvalLoss!.Value, 1e-5);
        Assert.Equal("failed", rows["tile-tensor-ops"].Status);
        Assert.Contains("forge_kernel tile", rows["tile-tensor-ops"].Message);
        Assert.Contains("tensor-ops", rows["tile-tensor-ops"].Message);
    }
}
