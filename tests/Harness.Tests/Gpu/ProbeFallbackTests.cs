using Harness.Core.Devices;
using Harness.Core.Meters;
using Harness.Results;
using Harness.Tests.Core;
using static TorchSharp.torch;

namespace Harness.Tests.Gpu;

public sealed class ProbeFallbackTests
{
    private sealed class FakeProbe(string level) : IDeviceMemoryProbe
    {
        public long Allocated => 100;
        public long PeakSinceReset => 250;
        public long Reserved => 400;
        public void ResetPeak() { }
        public string Level { get; } = level;
    }

    [Fact]
    public void On_cpu_the_memory_columns_are_empty_and_say_why()
    {
        using var session = DeviceSession.Basic(CPU);
        Assert.Null(session.Memory);
        Assert.Equal("host clock", session.NewTimeline().Method);
        var metrics = new MemoryMeter(session.Memory, session.ProbeStatus).Collect().ToList();
        Assert.All(metrics, m => Assert.Null(m.Value));
        Assert.All(metrics, m => Assert.Equal("cpu: no allocator statistics", m.Note));
    }

    [Fact]
    public void Values_are_labelled_with_the_probe_level_and_take_the_max_over_timed_steps()
    {
        var meter = new MemoryMeter(new FakeProbe("device-level"), "unused");
        meter.OnStep(timed: false, first: true, transient: 999, peak: 9999, reserved: 9999); // warm-up: only the first-step transient counts
        meter.OnStep(timed: true, first: false, transient: 10, peak: 300, reserved: 500);
        meter.OnStep(timed: true, first: false, transient: 30, peak: 200, reserved: 400);
        var m = meter.Collect().ToDictionary(x => x.Name);
        Assert.Equal(30, m[MetricNames.StepTransientBytes].Value);
        Assert.Equal(300, m[MetricNames.TrainStepPeakBytes].Value);
        Assert.Equal(500, m[MetricNames.ReservedBytes].Value);
        Assert.Equal(999, m[MetricNames.FirstStepTransientBytes].Value);
        Assert.StartsWith("device-level", m[MetricNames.StepTransientBytes].Note);
    }

    [Fact]
    public void The_native_build_says_why_it_cannot_build()
    {
        using var dir = new TestConfigs.TempDir();
        var source = Path.Combine(dir.Path, "probe.cpp");
        File.WriteAllText(source, "// probe");
        Assert.Contains("no host PyTorch", new NativeLibraryBuilder(source, dir.Path, LibTorchDiscovery.Discover(null)).EnsureBuilt().Status);
        Assert.Contains("not found", new NativeLibraryBuilder(Path.Combine(dir.Path, "missing.cpp"), dir.Path, LibTorchDiscovery.Discover(null)).EnsureBuilt().Status);
        var lib = Path.Combine(dir.Path, "torch", "lib");
        Directory.CreateDirectory(lib);
        File.WriteAllText(Path.Combine(lib, "libtorch.so"), "");
        var cpuOnly = new NativeLibraryBuilder(source, dir.Path, LibTorchDiscovery.Discover(lib)).EnsureBuilt();
        Assert.Null(cpuOnly.LibraryPath);
        Assert.Contains("no CUDA headers", cpuOnly.Status);
    }

    [Fact]
    public void The_native_build_key_covers_the_source_and_every_header_beside_it()
    {
        var kernels = Path.Combine(TestPaths.RepoRoot(), "optimizers", "kernels");
        var cu = Path.Combine(kernels, "harness_optim_kernels.cu");
        var keyed = NativeLibraryBuilder.KeyFiles(cu).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(Directory.EnumerateFiles(kernels).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList(), keyed);
        Assert.Contains("adam8bit.cuh", keyed);
        // The tensor-core wrapper includes the main source: its key covers it.
        Assert.Contains("harness_optim_kernels.cu", NativeLibraryBuilder.KeyFiles(Path.Combine(kernels, "harness_optim_kernels_tc.cu")).Select(Path.GetFileName));

        using var dir = new TestConfigs.TempDir();
        var source = Path.Combine(dir.Path, "probe.cpp");
        foreach (var f in new[] { "probe.cpp", "other.cpp", "notes.txt", "b.cuh", "a.h" }) File.WriteAllText(Path.Combine(dir.Path, f), f);
        Assert.Equal([source, Path.Combine(dir.Path, "a.h"), Path.Combine(dir.Path, "b.cuh")], NativeLibraryBuilder.KeyFiles(source));
    }

    [Fact]
    public void The_probe_source_is_found_from_the_test_binaries()
    {
        var source = DeviceSession.FindProbeSource();
        Assert.NotNull(source);
        Assert.Contains("hp_memory_stats", File.ReadAllText(source!));
    }
}
