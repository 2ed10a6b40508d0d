using Harness.Core.Running;
using Harness.Experiments.Models;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using Harness.Optimizers.AdamW;
using Harness.Tests.Core;
using static TorchSharp.torch;

namespace Harness.Tests.Workloads;

/// <summary><c>training.activation_checkpointing</c>: recomputing each decoder layer in the backward changes no number.</summary>
public sealed class ActivationCheckpointingTests
{
    private sealed class HostClock : IDeviceClock
    {
        public double Now() => 0;
    }

    private static (List<float> Losses, List<Tensor> Parameters) Train(bool checkpointing, bool fused)
    {
        var spec = TestConfigs.TinyLlama(16) with { Layers = 2, KvHeads = 1 };
        using var workload = new LanguageModelWorkload(spec, new WorkloadContext(3, CPU, ScalarType.Float32, 4) { ActivationCheckpointing = checkpointing });
        Assert.Equal(checkpointing, ((Llama)workload.Model).CheckpointActivations);
        using var optimizer = new AdamW(workload.Parameters, new AdamWOptions { Lr = 3e-3, WeightDecay = 0.1 });
        using var driver = fused ? new ForgeStepDriver(new HostClock(), 8, 0) : null;
        IStepDriver step = driver ?? (IStepDriver)new StandardStepDriver(new HostClock(), 0);
        var losses = new List<float>();
        for (var i = 0; i < 4; i++)
        {
            using var scope = NewDisposeScope();
            var batches = new[] { workload.NextBatch(Split.Train), workload.NextBatch(Split.Train) };
            losses.Add(step.TrainStep(workload, optimizer, batches, 1e-2, new StepTimings()).item<float>());
        }
        losses.Add((float)workload.Evaluate(2).Loss);
        return (losses, workload.Parameters.Select(p => p.Value.detach().clone().DetachFromDisposeScope()).ToList());
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Checkpointed_training_is_bit_identical_in_fp32_on_the_cpu(bool fusedBackward)
    {
        var (plainLosses, plainParameters) = Train(checkpointing: false, fusedBackward);
        var (losses, parameters) = Train(checkpointing: true, fusedBackward);
        Assert.Equal(plainLosses, losses);
        Assert.True(plainLosses[0] > plainLosses[^1], "the model learns");
        for (var i = 0; i < parameters.Count; i++)
            Assert.True(plainParameters[i].equal(parameters[i]).all().item<bool>(), $"parameter {i} differs by {(plainParameters[i] - parameters[i]).abs().max().item<float>():E2}");
        foreach (var t in plainParameters.Concat(parameters)) t.Dispose();
    }

    [Fact]
    public void Gpt2_refuses_checkpointing_with_a_reason()
    {
        var spec = new Gpt2Spec { Size = "tiny", SeqLen = 16 };
        var e = Assert.Throws<ArgumentException>(() => new LanguageModelWorkload(spec, new WorkloadContext(0, CPU, ScalarType.Float32, 2) { ActivationCheckpointing = true }));
        Assert.Contains("llama workload only", e.Message);
    }
}
