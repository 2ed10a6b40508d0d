using Harness.Core.Devices;
using Harness.Optimizers;
using Harness.Optimizers.Kernels;
using Harness.Results;
using TorchSharp;
using static TorchSharp.torch;

namespace Harness.Core.Bench;

/// <summary>
/// The optimizer-step benchmark on CUDA: synthetic parameters of a <see cref="ParameterSet"/> with
/// row-structured gradients (one log-normal scale per row, as weight gradients have, so Gefen finds its
/// block periods), a few untimed warm-up steps (Gefen learns its codebook in the first; the projection
/// optimizers take their first refresh there), then each step timed with CUDA events, the median reported; the
/// step transient (allocator peak during one step minus what was allocated before it) on one extra step. Two floors
/// from the optimizer's declared <see cref="StepCost"/>: its bytes at the copy bandwidth and its matmul FLOPs at the
/// matmul throughput, both measured in the same process (<see cref="DeviceRates"/>). A projection refresh is timed
/// apart: a second optimizer refreshing at every step (<see cref="OptimizerDescriptor.RefreshEachStep"/>), its median
/// minus the ordinary median. <c>bench-step</c> runs it on CUDA (the copy bandwidth needs the fused kernels); the
/// tests run the same code on the CPU.
/// </summary>
public sealed class StepBench(DeviceSession session, string gpuName)
{
    /// <summary>Measures the copy bandwidth through the fused-kernel library (cudaMemcpy device to device, 1 GiB).</summary>
    public double MeasureBandwidth() =>
        (session.Kernels ?? throw new InvalidOperationException($"the step benchmark needs the fused kernels: {session.KernelStatus}"))
            .CopyBandwidth(1L << 30, 15);

    /// <summary>
    /// Measures the throughput of an n×n by n×n product in <paramref name="dtype"/> (2·n³ FLOPs each; median of
    /// <paramref name="repeats"/> after two untimed), on the default math settings the optimizers run with.
    /// </summary>
    public double MeasureMatmulThroughput(ScalarType dtype, long n = 8192, int repeats = 10)
    {
        using var scope = NewDisposeScope();
        var a = randn([n, n], dtype: dtype, device: session.Device);
        var b = randn([n, n], dtype: dtype, device: session.Device);
        for (var i = 0; i < 2; i++) a.mm(b).Dispose();
        session.Synchronize();
        using var timeline = session.NewTimeline();
        var marks = new List<int> { timeline.Mark() };
        for (var i = 0; i < repeats; i++)
        {
            a.mm(b).Dispose(); // freed to the caching allocator in stream order: the next product reuses the block
            marks.Add(timeline.Mark());
        }
        var seconds = Median(Enumerable.Range(0, repeats).Select(i => timeline.Seconds(marks[i], marks[i + 1])).OrderBy(x => x).ToList());
        return 2.0 * n * n * n / seconds;
    }

    /// <summary>The rates of <see cref="DeviceRates"/>: bandwidth, matmul in <paramref name="dtype"/> and in bf16.</summary>
    public DeviceRates MeasureRates(ScalarType dtype)
    {
        var rate = MeasureMatmulThroughput(dtype);
        return new(MeasureBandwidth(), rate, dtype == ScalarType.BFloat16 ? rate : MeasureMatmulThroughput(ScalarType.BFloat16));
    }

    /// <param name="set">The parameter shapes.</param>
    /// <param name="benchCase">Optimizer, implementation and options.</param>
    /// <param name="dtype">Parameter and gradient dtype.</param>
    /// <param name="warmup">Untimed steps first.</param>
    /// <param name="steps">Timed steps (median reported).</param>
    /// <param name="refreshSteps">Timed steps of the refresh-at-every-step optimizer; 0 skips the refresh timing.</param>
    /// <param name="rates">The device's measured rates.</param>
    public StepBenchResult Run(ParameterSet set, StepBenchCase benchCase, ScalarType dtype, int warmup, int steps, int refreshSteps, DeviceRates rates)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(benchCase);
        ArgumentNullException.ThrowIfNull(rates);
        var descriptor = benchCase.Descriptor;
        var costOf = descriptor.StepCost ?? throw new InvalidOperationException($"{descriptor.Kind}: its catalog line declares no step cost");
        var parameters = new List<NamedParameter>();
        var grads = new List<Tensor>();
        try
        {
            CreateParameters(set, dtype, parameters, grads);
            var options = benchCase.OptionsFor(set);
            var (median, min, transient, state, implementation) = Time(options, descriptor, parameters, grads, warmup, steps, measureTransient: true);
            double? refreshMs = null;
            if (refreshSteps > 0 && descriptor.RefreshEachStep is { } refreshEachStep)
            {
                // No warm-up: every step refreshes, and the ordinary run above already warmed the solver; a median of
                // several steps leaves the first one's lazy state out.
                var (refreshMedian, _, _, _, _) = Time(refreshEachStep(options), descriptor, parameters, grads, 0, refreshSteps, measureTransient: false);
                refreshMs = refreshMedian - median;
            }
            var cost = costOf(parameters, options, state);
            return new StepBenchResult
            {
                Gpu = gpuName, ParameterSet = set.Name, Parameters = set.Count, Optimizer = benchCase.Optimizer, Implementation = implementation,
                Dtype = dtype.ToString().ToLowerInvariant(), Steps = steps, MedianMs = median, MinMs = min, StateBytes = state,
                TransientBytes = transient, BytesMoved = cost.BytesMoved, BandwidthBytesPerS = rates.BandwidthBytesPerS,
                MatmulFlops = cost.MatmulFlops, MatmulFlopsPerS = rates.MatmulRateFor(cost), RefreshEvery = cost.RefreshEvery, RefreshMs = refreshMs,
            };
        }
        finally
        {
            foreach (var p in parameters) p.Value.grad = null;
            foreach (var g in grads) g.Dispose();
            foreach (var p in parameters) p.Value.Dispose();
            session.ReleaseBetweenRuns();
        }
    }

    private void CreateParameters(ParameterSet set, ScalarType dtype, List<NamedParameter> parameters, List<Tensor> grads)
    {
        var device = session.Device;
        using var noGrad = no_grad();
        var gen = new Generator(1234, CPU);
        foreach (var t in set.Tensors)
        {
            using var scope = NewDisposeScope();
            var p = (randn(t.Shape, dtype: ScalarType.Float32, device: device) * 0.02).to(dtype);
            parameters.Add(new NamedParameter(t.Name, new TorchSharp.Modules.Parameter(p.DetachFromDisposeScope()), t.Role));
            var rows = t.Shape.Length == 2 ? t.Shape[0] : 1;
            var scale = exp(randn([rows, 1], generator: gen) * 1.5).mul_(1e-3).to(device);
            var g = (randn(t.Shape.Length == 2 ? t.Shape : [1, t.Shape[0]], dtype: ScalarType.Float32, device: device) * scale).reshape(t.Shape).to(dtype);
            grads.Add(g.DetachFromDisposeScope());
        }
    }

    // One optimizer on the parameters (their values drift by the steps taken; the step time does not depend on them).
    private (double Median, double Min, long? Transient, long State, string Implementation) Time(
        OptimizerOptions options, OptimizerDescriptor descriptor, List<NamedParameter> parameters, List<Tensor> grads, int warmup, int steps, bool measureTransient)
    {
        using var optimizer = descriptor.Create(parameters, options);
        if (optimizer is IFusedKernelUser user) user.AttachKernels(session.Kernels, session.KernelStatus);
        for (var i = 0; i < parameters.Count; i++) parameters[i].Value.grad = grads[i];

        for (var i = 0; i < warmup; i++) optimizer.Step(1e-4);
        session.Synchronize();
        using var timeline = session.NewTimeline();
        var marks = new List<int> { timeline.Mark() };
        for (var i = 0; i < steps; i++)
        {
            optimizer.Step(1e-4);
            marks.Add(timeline.Mark());
        }
        var times = Enumerable.Range(0, steps).Select(i => timeline.Seconds(marks[i], marks[i + 1]) * 1e3).OrderBy(x => x).ToList();

        long? transient = null;
        if (measureTransient && session.Memory is { Level: "allocator" } memory)
        {
            session.Synchronize();
            var before = memory.Allocated;
            memory.ResetPeak();
            optimizer.Step(1e-4);
            session.Synchronize();
            transient = memory.PeakSinceReset - before;
        }
        return (Median(times), times[0], transient, optimizer.StateBytes, optimizer.Implementation);
    }

    private static double Median(IReadOnlyList<double> sorted) =>
        sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
}
