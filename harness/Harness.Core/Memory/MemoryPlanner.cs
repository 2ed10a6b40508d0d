using Harness.Core.Config;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using Harness.Optimizers.Quantization;
using static TorchSharp.torch;

namespace Harness.Core.Memory;

/// <summary>
/// Parameters, weights, gradients and optimizer state of every optimizer configuration of an experiment, from
/// the model's shapes alone (<see cref="WorkloadDescriptor.ParameterShapes"/>, on the meta device: nothing is
/// allocated, so a LLaMA-7B plan takes well under a second on a laptop). The state is each catalog entry's
/// closed form, the formula the conformance suite holds equal to the measured <see cref="IOptimizer.StateBytes"/>;
/// an entry whose state depends on the data gives its <see cref="OptimizerDescriptor.StateBytesBounds"/>.
/// </summary>
public static class MemoryPlanner
{
    /// <summary>One row per optimizer configuration (sweep points included), in file order.</summary>
    /// <exception cref="ArgumentException">The workload kind has no shape description, or the shape is open (a tokenizer read from a file and no vocab_size).</exception>
    public static IReadOnlyList<MemoryPlanRow> Plan(ExperimentConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var workload = WorkloadCatalog.All.First(d => d.SpecType == config.Workload.GetType());
        var shapes = workload.ParameterShapes?.Invoke(config.Workload)
            ?? throw new ArgumentException($"workload kind '{workload.Kind}' has no shape description for memory planning; "
                + $"kinds with one: {string.Join(", ", WorkloadCatalog.All.Where(d => d.ParameterShapes is not null).Select(d => d.Kind))}");
        var dtype = config.Training.Dtype == TrainingDType.Bfloat16 ? ScalarType.BFloat16 : ScalarType.Float32;
        using var scope = NewDisposeScope();
        var parameters = ShapeParameters.Create(shapes, dtype);
        var byRole = Enum.GetValues<ParamRole>().ToDictionary(r => r, r => (IReadOnlyList<NamedParameter>)parameters.Where(p => p.Role == r).ToList());
        long Params(ParamRole r) => byRole[r].Sum(p => p.Value.numel());
        var weightBytes = parameters.Sum(p => p.Value.numel() * p.Value.element_size());
        var rows = new List<MemoryPlanRow>();
        foreach (var variant in config.Optimizers)
        {
            var descriptor = OptimizerCatalog.Find(variant.Kind)
                ?? throw new InvalidOperationException($"optimizer kind '{variant.Kind}' is not in the catalog");
            var state = State(descriptor, parameters, variant.Options);
            // Q-GaLore's INT8 weights: the model stores its matrices as codes, scales and zero points; gradients stay dense.
            var stored = variant.Options is IQuantizedWeightOptions { StoredWeightFormat: { } format } && workload.QuantizableMatrices
                ? parameters.Sum(p => p.Role == ParamRole.Matrix ? QuantizedWeight.BytesFor(p.Value.numel(), format) : p.Value.numel() * p.Value.element_size())
                : weightBytes;
            long RoleState(ParamRole r) => byRole[r].Count == 0 ? 0 : State(descriptor, byRole[r], variant.Options).Max;
            rows.Add(new MemoryPlanRow
            {
                Label = variant.Label,
                Optimizer = variant.Kind,
                Workload = workload.Kind,
                Dtype = KeyNames.SnakeCase(config.Training.Dtype.ToString()),
                Params = parameters.Sum(p => p.Value.numel()),
                WeightBytes = stored,
                GradientBytes = weightBytes,
                StateBytes = state.Max,
                StateBytesMin = state.Min,
                StateKind = descriptor.StateBytesBounds is null ? "exact" : "bound",
                TotalBytes = stored + weightBytes + state.Max,
                MatrixParams = Params(ParamRole.Matrix),
                VectorParams = Params(ParamRole.Vector),
                EmbeddingParams = Params(ParamRole.Embedding),
                OutputHeadParams = Params(ParamRole.OutputHead),
                MatrixStateBytes = RoleState(ParamRole.Matrix),
                VectorStateBytes = RoleState(ParamRole.Vector),
                EmbeddingStateBytes = RoleState(ParamRole.Embedding),
                OutputHeadStateBytes = RoleState(ParamRole.OutputHead),
            });
        }
        return rows;
    }

    private static StateBytesRange State(OptimizerDescriptor d, IReadOnlyList<NamedParameter> parameters, OptimizerOptions options)
    {
        if (d.StateBytesBounds is { } bounds) return bounds(parameters, options);
        var exact = d.ExpectedStateBytes(parameters, options);
        return new StateBytesRange(exact, exact);
    }
}
