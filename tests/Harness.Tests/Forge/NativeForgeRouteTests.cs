using Harness.Core.Checks;
using Harness.Core.Devices;
using Harness.Core.Running;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using Harness.Optimizers.AdamW;
using Harness.Tests.Core;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Harness.Tests.Forge;

/// <summary>
/// FORGE's native autograd function (harness/native/harness_forge.cpp) cannot be built here (no torch headers,
/// no nvcc): these tests cover what can be checked without it: the fallback to the managed route, the build
/// arguments, the source's presence and exports. The native route itself is checked by <c>harness gpu-check</c>.
/// </summary>
public sealed class NativeForgeRouteTests(ITestOutputHelper output)
{
    private sealed class HostClock : IDeviceClock
    {
        public double Now() => 0;
    }

    [Fact]
    public void Without_a_native_library_the_driver_and_its_layers_take_the_managed_route()
    {
        using var workload = new LanguageModelWorkload(TestConfigs.TinyLlama(16), new WorkloadContext(3, CPU, ScalarType.Float32, 4));
        using var optimizer = new AdamW(workload.Parameters, new AdamWOptions());
        using var driver = new ForgeStepDriver(new HostClock(), 8, 0);
        Assert.Equal(ForgeLinearLayer.ManagedRoute, driver.Route);
        using (NewDisposeScope())
            driver.TrainStep(workload, optimizer, [workload.NextBatch(Split.Train)], 1e-3, new StepTimings());
        Assert.NotEmpty(driver.Layers);
        Assert.All(driver.Layers.Values, l =>
        {
            Assert.Equal(ForgeLinearLayer.ManagedRoute, l.Route);
            Assert.Null(l.Native);
            Assert.Equal(1, l.Updates);
        });
        // Indices passed to the native function: distinct, 0..n-1.
        Assert.Equal(Enumerable.Range(0, driver.Layers.Count), driver.Layers.Values.Select(l => l.Index).Order());
    }

    [Fact]
    public void A_cpu_session_has_no_native_forge_and_says_the_managed_function_runs()
    {
        using var session = DeviceSession.Basic(CPU);
        Assert.Null(session.Forge);
        Assert.Contains("managed FORGE function", session.ForgeStatus);
    }

    [Fact]
    public void Opening_the_native_forge_without_source_or_host_pytorch_falls_back_with_the_reason()
    {
        using var dir = new TestConfigs.TempDir();
        var (none, why) = DeviceSession.OpenForge(null, dir.Path, LibTorchDiscovery.Discover(null));
        Assert.Null(none);
        Assert.Contains("managed FORGE function", why);
        var source = Path.Combine(dir.Path, "harness_forge.cpp");
        File.WriteAllText(source, "// forge");
        var (noTorch, reason) = DeviceSession.OpenForge(source, dir.Path, LibTorchDiscovery.Discover(null));
        Assert.Null(noTorch);
        Assert.Contains("managed FORGE function", reason);
        if (Environment.GetEnvironmentVariable(DeviceSession.NoNativeForgeVariable) is not ("1" or "true"))
            Assert.Contains("no host PyTorch", reason);
    }

    [Fact]
    public void The_forge_build_links_libtorch_and_the_probe_build_keeps_its_libraries()
    {
        using var dir = new TestConfigs.TempDir();
        var lib = Path.Combine(dir.Path, "torch", "lib");
        Directory.CreateDirectory(lib);
        File.WriteAllText(Path.Combine(lib, "libtorch.so"), "");
        var libTorch = LibTorchDiscovery.Discover(lib);
        var torch = libTorch.TorchDir!;
        var source = Path.Combine(dir.Path, "harness_forge.cpp");
        var forge = new NativeLibraryBuilder(source, dir.Path, libTorch, NativeLibraryBuilder.ForgeLibraryName, NativeLibraryBuilder.ForgeLinkLibraries);
        var args = forge.Arguments(torch, "/tmp/out.so");
        output.WriteLine(args);
        Assert.EndsWith($"-ltorch -ltorch_cpu -lc10 -o \"/tmp/out.so\" \"{source}\"", args);
        Assert.Contains($"-I\"{torch}/include\" -I\"{torch}/include/torch/csrc/api/include\"", args);
        Assert.Contains($"-Xlinker -rpath -Xlinker \"{libTorch.LibDir}\"", args);
        Assert.Contains("-shared -Xcompiler -fPIC -std=c++17", args);
        Assert.DoesNotContain("-lcudart", args);
        var probe = new NativeLibraryBuilder(source, dir.Path, libTorch);
        Assert.Equal(NativeLibraryBuilder.DefaultLinkLibraries, probe.LinkLibraries);
        Assert.Contains("-lc10_cuda -lc10 -lcudart -o", probe.Arguments(torch, "/tmp/out.so"));
        Assert.Equal(NativeLibraryBuilder.DefaultLinkLibraries, new NativeLibraryBuilder(source, dir.Path, libTorch, linkLibraries: " ").LinkLibraries);
    }

    [Fact]
    public void The_cxx_standard_follows_the_host_headers()
    {
        using var dir = new TestConfigs.TempDir();
        Assert.Equal("c++17", NativeLibraryBuilder.CxxStandard(dir.Path));
        var aten = Path.Combine(dir.Path, "include", "ATen");
        Directory.CreateDirectory(aten);
        File.WriteAllText(Path.Combine(aten, "ATen.h"), "#if __cplusplus >= 202002L\n#define X 1\n#endif\n");
        Assert.Equal("c++17", NativeLibraryBuilder.CxxStandard(dir.Path)); // a feature test is not a requirement
        File.WriteAllText(Path.Combine(aten, "ATen.h"), "#if __cplusplus < 202002L\n#error C++20 or later compatible compiler is required to use ATen.\n#endif\n");
        Assert.Equal("c++20", NativeLibraryBuilder.CxxStandard(dir.Path));
    }

    [Fact]
    public void The_native_source_is_found_from_the_test_binaries_and_exports_the_bound_abi()
    {
        var source = DeviceSession.FindSource(DeviceSession.ForgeSourceRelative);
        Assert.NotNull(source);
        var text = File.ReadAllText(source!);
        foreach (var export in new[] { "int hf_abi_version()", "const char* hf_last_error()", "void* hf_linear(" })
            Assert.Contains(export, text);
        Assert.Contains($"int hf_abi_version() {{ return {NativeForge.AbiVersion}; }}", text);
    }

    [Fact]
    public void The_gpu_check_comparison_passes_for_the_managed_route_on_cpu()
    {
        var (ok, detail) = ForgeRouteEquivalence.Compare(CPU, null, OptimizerCatalog.Find("adamw")!, new ForgeRouteCase(1, 8, 0), steps: 3);
        output.WriteLine(detail);
        Assert.True(ok, detail);
        Assert.Contains("managed route", detail);
        Assert.Contains("native route not available", detail);
        var (clipOk, clipDetail) = ForgeRouteEquivalence.Compare(CPU, null, OptimizerCatalog.Find("adamw")!, new ForgeRouteCase(2, 7, 0.05), steps: 3);
        output.WriteLine(clipDetail);
        Assert.True(clipOk, clipDetail);
    }
}
