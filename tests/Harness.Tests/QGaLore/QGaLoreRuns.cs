using Harness.Core.Running;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using Harness.Optimizers.Kernels;
using Harness.Optimizers.QGaLore;
using Harness.Optimizers.Quantization;
using Harness.Tests.Core;
using static TorchSharp.torch;

namespace Harness.Tests.QGaLore;

/// <summary>Short Q-GaLore trainings of a 2-layer tiny LLaMA (seed 5, batches of 4 × 16 tokens) with a warm-up + decay schedule.</summary>
internal static class QGaLoreRuns
{
    private sealed class HostClock : IDeviceClock
    {
        public double Now() => 0;
    }

    /// <summary>
    /// Trains <paramref name="steps"/> steps; returns the training losses, then the evaluation loss, and every weight's
    /// values (dequantized where stored). With <c>weight_storage: int8</c> the model stores its matrices; else, with
    /// <paramref name="startOnGrid"/>, its matrices start on their nearest INT8 grid values, as the stored ones do.
    /// <paramref name="schedule"/> (step, steps) → lr replaces the default warm-up + linear decay; <paramref name="inspect"/>
    /// sees the optimizer after the last step.
    /// </summary>
    public static (List<float> Losses, List<Tensor> Weights, string Implementation) Train(QGaLoreOptions options, bool startOnGrid, int steps, FusedKernels? kernels = null,
        Func<int, int, double>? schedule = null, Action<Harness.Optimizers.QGaLore.QGaLore>? inspect = null)
    {
        var spec = TestConfigs.TinyLlama(16) with { Layers = 2 };
        using var workload = new LanguageModelWorkload(spec, new WorkloadContext(5, CPU, ScalarType.Float32, 4));
        if (options.StoredWeightFormat is { } format)
        {
            Assert.Equal(14, workload.StoreMatricesQuantized(format)); // q, k, v, o, gate, up, down in each of 2 layers
        }
        else if (startOnGrid)
        {
            using var noGrad = no_grad();
            foreach (var p in workload.Parameters.Where(p => p.Role == ParamRole.Matrix))
                p.Value.copy_(GroupQuantizer.FakeQuantize(p.Value, 256, 8, null));
        }
        using var optimizer = new Harness.Optimizers.QGaLore.QGaLore(workload.Parameters, options);
        if (kernels is not null) optimizer.AttachKernels(kernels, "emulated");
        var driver = new StandardStepDriver(new HostClock(), 0);
        var losses = new List<float>();
        for (var t = 0; t < steps; t++)
        {
            using var scope = NewDisposeScope();
            var lr = schedule?.Invoke(t, steps) ?? options.Lr * Math.Min(1.0, (t + 1) / 4.0) * (1 - 0.5 * t / steps); // warm-up, then a decay
            losses.Add(driver.TrainStep(workload, optimizer, [workload.NextBatch(Split.Train)], lr, new StepTimings()).item<float>());
        }
        losses.Add((float)workload.Evaluate(2).Loss);
        inspect?.Invoke(optimizer);
        using var weights = NewDisposeScope();
        return (losses, workload.Parameters.Select(p => p.DenseValue().detach().clone().MoveToOuterDisposeScope()).ToList(), optimizer.Implementation);
    }
}
