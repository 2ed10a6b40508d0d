using Harness.Core.Checks;
using Harness.Core.Devices;
using Harness.Tests.Core;
using Harness.Optimizers;

namespace Harness.Tests.Gpu;

/// <summary>What <c>gpu-check --only</c> selects, and the catalog's per-optimizer check settings it relies on.</summary>
public sealed class GpuCheckSelectionTests
{
    [Fact]
    public void Only_keeps_checks_whose_name_contains_an_entry_case_insensitively()
    {
        var all = new GpuChecks(null!);
        var some = new GpuChecks(null!, ["whole RUN", "muon on"]);
        const string forge = "FORGE tile = slabs over a whole run (LLaMA d=512)";
        const string muon = "muon on CUDA equals CPU over 5 steps";
        const string adamw = "adamw on CUDA equals CPU over 5 steps";
        Assert.True(all.Wanted(adamw));
        Assert.True(some.Wanted(forge));
        Assert.True(some.Wanted(muon));
        Assert.False(some.Wanted(adamw));
        Assert.True(new GpuChecks(null!, []).Wanted(adamw));
    }

    [Fact]
    public void Muon_is_compared_across_devices_with_float32_newton_schulz_and_gefen_has_a_looser_whole_run_state_bound()
    {
        var muon = OptimizerCatalog.All.Single(d => d.Kind == "muon");
        var options = Assert.IsType<Harness.Optimizers.Muon.MuonOptions>(muon.Checks.DeviceCheckOptions!());
        Assert.Equal(Harness.Optimizers.Muon.NewtonSchulzDtype.Float32, options.NsDtype);
        var cases = FusedOptimizerCase.All.ToDictionary(c => c.Kind);
        Assert.Equal(1e-5, cases["gefen"].StateRelative);
        Assert.Equal(1e-6, cases["adamw"].StateRelative);
        Assert.Equal(1e-6, cases["adam8bit"].StateRelative);
        Assert.All(OptimizerCatalog.All.Where(d => d.Kind != "muon"), d => Assert.Null(d.Checks.DeviceCheckOptions));
    }

    [Fact]
    public void The_default_cuda_kernel_build_leaves_the_unchecked_tensor_core_kernel_out_and_the_tc_source_puts_it_in()
    {
        var kernels = Path.Combine(TestPaths.RepoRoot(), "optimizers", "kernels");
        var lines = File.ReadAllLines(Path.Combine(kernels, "harness_optim_kernels.cu"));
        var depth = 0;
        var guarded = false;
        foreach (var line in lines)
        {
            if (line.StartsWith("#if", StringComparison.Ordinal))
            {
                depth++;
                guarded |= line.Trim() == "#if defined(HK_EMULATED) || defined(HK_FORGE_TC)";
            }
            else if (line.StartsWith("#endif", StringComparison.Ordinal) && --depth == 0) guarded = false;
            if (line.Contains("forge_tc.cuh", StringComparison.Ordinal) && line.StartsWith("#include", StringComparison.Ordinal)
                || line.StartsWith("int hk_forge_tc(", StringComparison.Ordinal))
                Assert.True(guarded, $"unguarded: {line}");
        }
        var tc = File.ReadAllLines(Path.Combine(kernels, "harness_optim_kernels_tc.cu")).Where(l => l.StartsWith('#')).ToList();
        Assert.Equal(["#define HK_FORGE_TC 1", "#include \"harness_optim_kernels.cu\""], tc);
        Assert.EndsWith("harness_optim_kernels_tc.cu", DeviceSession.KernelsTensorCoreSourceRelative[1], StringComparison.Ordinal);
    }
}
