using System.Diagnostics;
using Harness.Core.Running;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using Harness.Tests.Core;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Harness.Tests.Workloads;

/// <summary><c>training.dtype: mixed</c>: bf16 matmuls and attention on fp32 master weights, fp32 norms, loss and state.</summary>
public sealed class MixedPrecisionTests(ITestOutputHelper output)
{
    private sealed class HostClock : IDeviceClock
    {
        public double Now() => 0;
    }

    private const int Steps = 12;

    /// <summary>
    /// Tiny grouped-query LLaMA (hidden 64, 4 heads sharing 2 kv heads, 2 layers) or tiny GPT-2 (hidden 64, 4 heads,
    /// 2 layers, biases, tied head), both on Moby Dick bytes.
    /// </summary>
    private static LanguageModelWorkload Tiny(bool mixed, string model = "llama")
    {
        var context = new WorkloadContext(1, CPU, ScalarType.Float32, 4) { ComputeDType = mixed ? ScalarType.BFloat16 : null };
        return model == "gpt2"
            ? new(new Gpt2Spec { Size = "tiny", SeqLen = 16, Data = TestConfigs.TinyLlama().Data }, context)
            : new(TestConfigs.TinyLlama(16) with { Hidden = 64, Heads = 4, KvHeads = 2, Layers = 2, Ffn = 128 }, context);
    }

    private static (double EvalLoss, IOptimizer Optimizer) Train(LanguageModelWorkload workload, OptimizerDescriptor descriptor, bool fused)
    {
        var options = descriptor.DefaultOptions();
        if (options is IRunSeeded seeded) options = seeded.WithRunSeed(1);
        var optimizer = descriptor.Create(workload.Parameters, options);
        using var fusedDriver = fused ? new ForgeStepDriver(new HostClock(), 16, 0) : null;
        IStepDriver driver = fusedDriver ?? (IStepDriver)new StandardStepDriver(new HostClock(), 0);
        for (var step = 0; step < Steps; step++)
        {
            using var scope = NewDisposeScope();
            driver.TrainStep(workload, optimizer, [workload.NextBatch(Split.Train)], LearningRate(options), new StepTimings());
        }
        return (workload.Evaluate(2).Loss, optimizer);
    }

    /// <summary>The options' own learning rate (every catalog optimizer has an <c>Lr</c>).</summary>
    private static double LearningRate(OptimizerOptions options) =>
        (double)options.GetType().GetProperty("Lr")!.GetValue(options)!;

    public static TheoryData<string, bool, string> Optimizers()
    {
        var data = new TheoryData<string, bool, string>();
        foreach (var model in new[] { "llama", "gpt2" })
        {
            foreach (var d in OptimizerCatalog.All) data.Add(d.Kind, false, model);
            data.Add("adamw", true, model);   // FORGE's fused backward
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void Mixed_precision_trains_to_within_5_percent_of_fp32_final_eval_loss(string kind, bool fusedBackward, string model)
    {
        var descriptor = OptimizerCatalog.Find(kind)!;
        var clock = Stopwatch.StartNew();
        using var fp32 = Tiny(mixed: false, model);
        var (fp32Loss, fp32Optimizer) = Train(fp32, descriptor, fusedBackward);
        fp32Optimizer.Dispose();
        var fp32Seconds = clock.Elapsed.TotalSeconds;
        using var mixed = Tiny(mixed: true, model);
        var initial = mixed.Evaluate(2).Loss;
        var (mixedLoss, mixedOptimizer) = Train(mixed, descriptor, fusedBackward);
        using (mixedOptimizer)
        {
            output.WriteLine($"{model} {kind}{(fusedBackward ? " fused_backward" : "")}: initial {initial:F4}, fp32 {fp32Loss:F4}, mixed {mixedLoss:F4} " +
                $"({(mixedLoss / fp32Loss - 1) * 100:+0.00;-0.00} %); fp32 {fp32Seconds:F1} s, mixed {clock.Elapsed.TotalSeconds - fp32Seconds:F1} s");
            Assert.True(mixedLoss < initial - 0.05, $"mixed did not learn: {initial:F4} -> {mixedLoss:F4}");
            Assert.InRange(mixedLoss, fp32Loss * 0.95, fp32Loss * 1.05);
            // Master weights, their gradients' target and the optimizer state stay fp32.
            Assert.All(mixed.Parameters, p => Assert.Equal(ScalarType.Float32, p.Value.dtype));
            Assert.Equal(fp32Optimizer.StateDtype, mixedOptimizer.StateDtype);
        }
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    public void Matmuls_run_in_bf16_while_weights_and_their_gradients_stay_fp32_and_the_loss_is_fp32(string model)
    {
        using var workload = Tiny(mixed: true, model);
        using var scope = NewDisposeScope();
        var batch = workload.NextBatch(Split.Train);
        Assert.Equal(ScalarType.BFloat16, workload.Config.Logits(batch.Inputs).dtype);
        var loss = workload.Loss(batch);
        Assert.Equal(ScalarType.Float32, loss.dtype);
        loss.backward();
        Assert.All(workload.Parameters, p => Assert.Equal(ScalarType.Float32, p.Value.grad!.dtype));

        // The same weights in fp32 give a loss within bf16 rounding of the mixed one, but not bit-equal.
        using var fp32 = Tiny(mixed: false, model);
        using var noGrad = no_grad();
        var reference = fp32.Loss(batch).item<float>();
        Assert.InRange(Math.Abs(loss.item<float>() - reference), 1e-7, 0.02);
    }
}
