using Harness.Core.Checkpoints;
using Harness.Core.Config;
using Harness.Core.Devices;
using Harness.Core.Memory;
using Harness.Core.Planning;
using Harness.Core.Running;
using Harness.Experiments.Models;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using Harness.Optimizers.QGaLore;
using Harness.Optimizers.Quantization;
using Harness.Results;
using Harness.Tests.Core;
using Harness.Tests.Reliability;
using static TorchSharp.torch;

namespace Harness.Tests.QGaLore;

/// <summary>Q-GaLore's INT8 weight storage (<c>weight_storage: int8</c>) against its simulated grid path and AdamW's weights.</summary>
public sealed class QGaLoreInt8WeightTests
{
    private static readonly QGaLoreOptions Options = new() { Lr = 1e-2, Rank = 8, UpdateProjGap = 3, Seed = 11 };

    [Fact]
    public void Stored_codes_decode_to_the_simulated_grid_and_restore_bit_for_bit()
    {
        using var scope = NewDisposeScope();
        var w = randn([48, 100], generator: new Generator(7)).mul_(0.02); // 4800 = 18 full groups + one of 192
        using var q = QuantizedWeight.FromDense(w, QuantizedWeightFormat.Int8Group256);
        Assert.Equal(ScalarType.Byte, q.Codes.dtype);
        Assert.Equal(4800 + 5 * 19, q.Bytes);
        Assert.Equal(q.Bytes, QuantizedWeight.BytesFor(4800, QuantizedWeightFormat.Int8Group256));
        // Round to nearest: the codes decode to exactly the values of the simulated path's fake quantization.
        Assert.True(q.Dequantize(ScalarType.Float32).equal(GroupQuantizer.FakeQuantize(w, 256, 8, null)).all().item<bool>());
        // Stochastic rounding with the same generator seed: the same draws, the same grid values.
        var moved = w.add(1e-4);
        q.Store(moved, new Generator(99));
        Assert.True(q.Dequantize(ScalarType.Float32).equal(GroupQuantizer.FakeQuantize(moved, 256, 8, new Generator(99))).all().item<bool>());
        Assert.False(q.Dequantize(ScalarType.Float32).equal(GroupQuantizer.FakeQuantize(moved, 256, 8, null)).all().item<bool>(), "the rounding was not stochastic");
    }

    [Theory]
    [InlineData("tensor-ops")]
    [InlineData("batched")]
    public void Int8_storage_trains_bit_identically_to_the_simulated_path_from_the_same_grid(string implementation)
    {
        using var scope = NewDisposeScope();
        var options = Options with { Implementation = implementation };
        var (simLosses, simWeights, _) = QGaLoreRuns.Train(options with { WeightStorage = QGaLoreWeightStorage.Simulated }, startOnGrid: true, steps: 8);
        var (losses, weights, _) = QGaLoreRuns.Train(options, startOnGrid: true, steps: 8);
        Assert.Equal(simLosses, losses);
        Assert.True(losses[^1] < losses[0], $"the model learns ({losses[0]} -> {losses[^1]})");
        for (var i = 0; i < weights.Count; i++)
            Assert.True(simWeights[i].equal(weights[i]).all().item<bool>(), $"parameter {i} differs by {(simWeights[i] - weights[i]).abs().max().item<float>():E2}");
    }

    /// <summary>
    /// From the dense initial weights the simulated path's first forward uses them unrounded, the stored path their
    /// nearest grid values (|error| ≤ scale/2, about 0.2 % of a group's range), and the rounding draws then land on
    /// different values, so the two runs separate like two seeds of one run, not like two algorithms: within 1 % per
    /// step over 12 steps of a loss that falls by more than that (measured: at most 0.13 %, at steps 9-11).
    /// </summary>
    [Fact]
    public void Int8_storage_from_the_dense_init_stays_within_1_percent_of_the_simulated_losses()
    {
        using var scope = NewDisposeScope();
        var (simLosses, _, _) = QGaLoreRuns.Train(Options with { WeightStorage = QGaLoreWeightStorage.Simulated }, startOnGrid: false, steps: 12);
        var (losses, _, _) = QGaLoreRuns.Train(Options, startOnGrid: false, steps: 12);
        Assert.NotEqual(simLosses, losses);
        for (var i = 0; i < losses.Count; i++)
            Assert.True(Math.Abs(losses[i] - simLosses[i]) <= 0.01 * simLosses[i], $"step {i}: {losses[i]} vs simulated {simLosses[i]}");
        Assert.True(simLosses[0] - simLosses[^1] > 0.05 * simLosses[0], $"the loss falls by more than the tolerance ({simLosses[0]} -> {simLosses[^1]})");
    }

    [Fact]
    public void A_run_stores_int8_weights_below_adamw_as_the_shapes_and_the_memory_planner_say_and_resumes_bit_identically()
    {
        using var dir = new TestConfigs.TempDir();
        var qgalore = new OptimizerVariant("qgalore", "qgalore", Options, [], 0);
        ExperimentConfig Config(int checkpointEvery)
        {
            var c = TestConfigs.Experiment("int8", 6, [TestConfigs.AdamW(), qgalore]);
            return c with { Training = c.Training with { LogEvery = 1, EvalEvery = 3, CheckpointEvery = checkpointEvery } };
        }

        // Crash before step 5 (a checkpoint of step 4 is left), resume; and a clean run.
        var store = new ResultStore(Path.Combine(dir.Path, "resumed"));
        var crash = new InjectedFaults((run, step) => run.Variant.Kind == "qgalore" && step == 5 ? new InvalidOperationException("simulated crash") : null);
        Assert.False(TestConfigs.Sweep(store, Config(2), crash).AllCompleted);
        Assert.True(TestConfigs.Sweep(store, Config(2)).AllCompleted);
        var clean = new ResultStore(Path.Combine(dir.Path, "clean"));
        Assert.True(TestConfigs.Sweep(clean, Config(0)).AllCompleted);

        var rows = ResultStore.ReadSummary(clean.SummaryPath("int8")).ToDictionary(r => r.Optimizer);
        var (adamw, q) = (rows["adamw"], rows["qgalore"]);
        var shapes = LlamaConfig.FromSpec(TestConfigs.TinyLlama(), ModelVocabulary.ForPlanning(null, (TextDataSpec)TestConfigs.TinyLlama().Data)).ParameterShapes();
        long Numel(ParameterShape s) => s.Shape.Aggregate(1L, (a, b) => a * b);
        // Matrices: one uint8 code per weight and a float32 scale + uint8 zero point per 256 weights; the rest float32.
        var expected = shapes.Sum(s => s.Role == ParamRole.Matrix ? Numel(s) + 5 * ((Numel(s) + 255) / 256) : 4 * Numel(s));
        Assert.Equal(4 * adamw.ParamCount, adamw.WeightBytes);
        Assert.Equal(expected, q.WeightBytes);
        Assert.True(q.WeightBytes < adamw.WeightBytes);
        Assert.Equal(q.ParamCount, adamw.ParamCount);
        var plan = MemoryPlanner.Plan(Config(0)).ToDictionary(r => r.Optimizer);
        Assert.Equal(adamw.WeightBytes, plan["adamw"].WeightBytes);
        Assert.Equal(q.WeightBytes, plan["qgalore"].WeightBytes);
        // The state formula is that of the optimizer alone: unchanged by where the weights live.
        var metrics = clean.ReadMetrics("int8", q.RunId);
        Assert.Equal(metrics.Single(m => m.Name == MetricNames.ExpectedStateBytes).Value, metrics.Single(m => m.Name == MetricNames.StateBytes).Value);
        Assert.Equal(plan["qgalore"].StateBytes, q.StateBytes);

        // The resumed run (codes, scales and zero points restored from the checkpoint) ends where the clean one does.
        Assert.Equal(4, store.TryReadManifest("int8", q.RunId)!.ResumedFromStep);
        Assert.Equal(clean.ReadSteps("int8", q.RunId).Select(s => (s.TrainLoss, s.EvalLoss)), store.ReadSteps("int8", q.RunId).Select(s => (s.TrainLoss, s.EvalLoss)));
    }

    /// <summary>step_mode: per_layer steps each INT8 weight inside the backward (the 7B single-GPU setting): the same run.</summary>
    [Fact]
    public void A_per_layer_run_with_int8_weights_equals_the_standard_run()
    {
        using var dir = new TestConfigs.TempDir();
        var store = new ResultStore(dir.Path);
        var (standard, perLayer) = TestConfigs.StandardAndPerLayer(store, new OptimizerVariant("qgalore", "qgalore", Options, [], 0), 6);
        Assert.Equal(standard.FinalEvalLoss, perLayer.FinalEvalLoss);
        Assert.Equal(standard.FinalTrainLoss, perLayer.FinalTrainLoss);
        Assert.Equal(standard.WeightBytes, perLayer.WeightBytes);
        Assert.NotEqual(standard.InitialEvalLoss, standard.FinalEvalLoss);
    }
}
