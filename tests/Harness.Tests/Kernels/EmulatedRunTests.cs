using Harness.Core.Config;
using Harness.Core.Devices;
using Harness.Core.Planning;
using Harness.Results;
using Harness.Core.Running;
using Harness.Optimizers.Kernels;
using Harness.Tests.Core;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Harness.Tests.Kernels;

/// <summary>
/// <c>HARNESS_EMULATED_KERNELS=1</c> as the CLI opens it (<see cref="DeviceSession.Open"/> with the emulated kernels), through
/// the runner: configs/smoke/fused-emulated.yaml's pairs end at the same losses, the cuda-fused rows say they were
/// emulated, and without the emulated kernels a cuda-fused entry on CPU fails with the reason; the builder's cache key.
/// </summary>
[Collection(EmulatedKernels.Collection)]
public sealed class EmulatedRunTests(EmulatedKernels emulated, ITestOutputHelper output)
{
    private static string SmokeConfig => Path.Combine(TestPaths.RepoRoot(), "configs", "smoke", "fused-emulated.yaml");

    // The fixture's build cache: the session finds the library built there already.
    private static string Cache => Path.Combine(Path.GetTempPath(), "harness-tests-cache");

    /// <summary>
    /// The smoke config as it ships: 60 cosine steps. The pairs run the same arithmetic up to an ulp of a step now and then,
    /// so their final losses agree to 1e-6 (measured: identical), except plain 8-bit Adam, whose own rule steps
    /// zero-gradient embedding and head rows by thousands of lr and so grows that ulp into a visible gap: the test asserts
    /// the telemetry shows it (max_update_ratio in the thousands) and that the bitsandbytes remedy (the rows' state in
    /// 32 bits) makes that pair agree again with the ratio near Adam's.
    /// </summary>
    [Fact]
    public void The_smoke_config_ends_each_pair_at_the_same_losses_with_the_emulated_kernels()
    {
        var config = ConfigLoader.Load(SmokeConfig, []);
        using var dir = new TestConfigs.TempDir();
        var store = new ResultStore(dir.Path);
        using var session = DeviceSession.Open(CPU, LibTorchDiscovery.Discover(null), null, Cache, emulatedKernels: true);
        Assert.True(session.Kernels?.IsEmulated, session.KernelStatus);
        Assert.Contains("host-emulated", session.KernelStatus);
        var result = new SweepRunner(store, new NullRunObserver(), Path.Combine(dir.Path, "cache")).Run(config, Planner.Plan(config, "cpu"), session,
            ProvenanceProbe.Collect(CPU), CancellationToken.None);
        var rows = ResultStore.ReadSummary(store.SummaryPath(config.Name)).ToDictionary(r => r.Label);
        foreach (var r in rows.Values) output.WriteLine($"{r.Label}: {r.Status} [{r.Implementation}] train {r.FinalTrainLoss:R} eval {r.FinalEvalLoss:R} {r.Message}");
        Assert.True(result.AllCompleted);
        foreach (var pair in new[] { "adamw", "adam8bit", "gefen", "adam8bit-fp32-rows" })
        {
            var (reference, fused) = (rows[$"{pair}-tensor-ops"], rows[$"{pair}-fused"]);
            Assert.Equal(60, fused.Steps);
            Assert.Equal(ImplementationChoice.TensorOps, reference.Implementation);
            Assert.Equal(ImplementationChoice.CudaFusedEmulated, fused.Implementation);
            Assert.True(double.IsFinite(fused.FinalEvalLoss!.Value));
            if (pair == "adam8bit")
            {
                // bitsandbytes' rule on row-sparse gradients: both implementations show the thousand-fold steps.
                Assert.True(reference.MaxUpdateRatio > 1000 && fused.MaxUpdateRatio > 1000, $"{reference.MaxUpdateRatio} / {fused.MaxUpdateRatio}");
                continue;
            }
            Assert.Equal(reference.FinalEvalLoss!.Value, fused.FinalEvalLoss.Value, 1e-6);
            Assert.Equal(reference.FinalTrainLoss!.Value, fused.FinalTrainLoss!.Value, 1e-6);
            // Adam's rule keeps |delta p| / lr near 1 (measured 1.1); Gefen's block-shared second moment is not bounded so
            // (measured 8.0), and is left out of this bound.
            if (pair != "gefen") Assert.True(fused.MaxUpdateRatio < 3, $"{pair}: max_update_ratio {fused.MaxUpdateRatio}");
        }
    }

    [Fact]
    public void Without_the_emulated_kernels_a_cuda_fused_entry_on_cpu_fails_saying_why()
    {
        var config = ConfigLoader.Load(SmokeConfig, ["training.steps=3"]);
        config = config with { Optimizers = [config.Optimizers.Single(v => v.Label == "adamw-fused")] };
        using var dir = new TestConfigs.TempDir();
        var store = new ResultStore(dir.Path);
        using var session = DeviceSession.Open(CPU, LibTorchDiscovery.Discover(null), null, Cache, emulatedKernels: false);
        Assert.Null(session.Kernels);
        var result = new SweepRunner(store, new NullRunObserver(), Path.Combine(dir.Path, "cache")).Run(config, Planner.Plan(config, "cpu"), session,
            ProvenanceProbe.Collect(CPU), CancellationToken.None);
        Assert.False(result.AllCompleted);
        var row = Assert.Single(ResultStore.ReadSummary(store.SummaryPath(config.Name)));
        output.WriteLine(row.Message);
        Assert.Equal("failed", row.Status);
        Assert.Contains("implementation 'cuda-fused' asked for, but the fused kernels are unavailable", row.Message);
        Assert.Contains(EmulatedKernelBuilder.EnvironmentVariable + "=1", row.Message);
    }

    /// <summary>Every file of the kernels folder is in the cache key: a header change rebuilds, and so does a new file.</summary>
    [Fact]
    public void The_build_key_hashes_every_file_of_the_kernels_folder()
    {
        using var dir = new TestConfigs.TempDir();
        var kernels = Path.Combine(TestPaths.RepoRoot(), "optimizers", "kernels");
        foreach (var f in Directory.EnumerateFiles(kernels)) File.Copy(f, Path.Combine(dir.Path, Path.GetFileName(f)));
        var builder = new EmulatedKernelBuilder(Path.Combine(dir.Path, "harness_optim_kernels.cu"), dir.Path);
        var key = builder.Key("12.2.0");
        Assert.Equal(key, builder.Key("12.2.0"));
        Assert.NotEqual(key, builder.Key("13.1.0"));
        var header = Path.Combine(dir.Path, "hk_emulation.h");
        File.AppendAllText(header, "\n// changed\n");
        var changed = builder.Key("12.2.0");
        Assert.NotEqual(key, changed);
        File.WriteAllText(Path.Combine(dir.Path, "extra.cuh"), "// a new header\n");
        Assert.NotEqual(changed, builder.Key("12.2.0"));
        // The fixture's library came from the same builder: its folder is named by the key of the repository's kernels.
        Assert.StartsWith(Path.Combine(Cache, "native", "emulated-"), emulated.LibraryPath);
    }
}
