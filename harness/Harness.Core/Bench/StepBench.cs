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
/// block periods), a few untimed warm-up steps (Gefen learns its codebook in the first), then each step
/// timed with CUDA events, the median reported; the step transient (allocator peak during one step minus
/// what was allocated before it) on one extra step; the floor from the bytes a step must move and the copy
/// bandwidth measured in the same process.
/// </summary>
public sealed class StepBench(DeviceSession session, string gpuName)
{
    /// <summary>Measures the copy bandwidth through the fused-kernel library (cudaMemcpy device to device, 1 GiB).</summary>
    public double MeasureBandwidth() =>
        (session.Kernels ?? throw new InvalidOperationException($"the step benchmark needs the fused kernels: {session.KernelStatus}"))
            .CopyBandwidth(1L << 30, 15);

    public StepBenchResult Run(ParameterSet set, string kind, string implementation, ScalarType dtype, int warmup, int steps, double bandwidth)
    {
        if (!session.IsCuda) throw new InvalidOperationException("the step benchmark runs on CUDA");
        var descriptor = OptimizerCatalog.Find(kind) ?? throw new ArgumentException($"unknown optimizer '{kind}'");
        var device = session.Device;
        var parameters = new List<NamedParameter>();
        var grads = new List<Tensor>();
        IOptimizer? optimizer = null;
        try
        {
            using (no_grad())
            {
                var gen = new Generator(1234, CPU);
                foreach (var t in set.Tensors)
                {
                    var p = (randn(t.Shape, dtype: ScalarType.Float32, device: device) * 0.02).to(dtype);
                    parameters.Add(new NamedParameter(t.Name, new TorchSharp.Modules.Parameter(p), t.Role));
                    var rows = t.Shape.Length == 2 ? t.Shape[0] : 1;
                    var scale = exp(randn([rows, 1], generator: gen) * 1.5).mul_(1e-3).to(device);
                    var g = (randn(t.Shape.Length == 2 ? t.Shape : [1, t.Shape[0]], dtype: ScalarType.Float32, device: device) * scale).reshape(t.Shape).to(dtype);
                    grads.Add(g.DetachFromDisposeScope());
                }
            }
            var options = WithImplementation(descriptor.DefaultOptions(), implementation);
            optimizer = descriptor.Create(parameters, options);
            if (optimizer is IFusedKernelUser user) user.AttachKernels(session.Kernels, session.KernelStatus);
            else if (implementation == ImplementationChoice.CudaFused) throw new InvalidOperationException($"{kind} has no fused kernel");
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
            if (session.Memory is { Level: "allocator" } memory)
            {
                session.Synchronize();
                var before = memory.Allocated;
                memory.ResetPeak();
                optimizer.Step(1e-4);
                session.Synchronize();
                transient = memory.PeakSinceReset - before;
            }

            var paramBytes = parameters.Sum(p => p.Value.numel() * p.Value.element_size());
            var gradBytes = grads.Sum(g => g.numel() * g.element_size());
            var state = optimizer.StateBytes;
            return new StepBenchResult
            {
                Gpu = gpuName, ParameterSet = set.Name, Parameters = set.Count, Optimizer = kind, Implementation = optimizer.Implementation,
                Dtype = dtype.ToString().ToLowerInvariant(), Steps = steps, MedianMs = Median(times), MinMs = times[0], StateBytes = state,
                TransientBytes = transient, BytesMoved = 2 * paramBytes + gradBytes + 2 * state, BandwidthBytesPerS = bandwidth,
            };
        }
        finally
        {
            foreach (var p in parameters) p.Value.grad = null;
            optimizer?.Dispose();
            foreach (var g in grads) g.Dispose();
            foreach (var p in parameters) p.Value.Dispose();
            session.ReleaseBetweenRuns();
        }
    }

    private static double Median(IReadOnlyList<double> sorted) =>
        sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;

    // Every options record with an implementation choice has an init-only Implementation property; the
    // defaults are a fresh instance, so setting it here touches nothing shared.
    private static OptimizerOptions WithImplementation(OptimizerOptions options, string implementation)
    {
        var property = options.GetType().GetProperty("Implementation");
        if (property is null && implementation == ImplementationChoice.CudaFused)
            throw new InvalidOperationException($"{options.GetType().Name} has no implementation choice");
        property?.SetValue(options, implementation);
        return options;
    }
}
