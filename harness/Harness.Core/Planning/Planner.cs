using Harness.Core.Config;
using Harness.Experiments.Workloads;
using Harness.Optimizers;

namespace Harness.Core.Planning;

/// <summary>
/// Expands a config into runs: optimizer configurations (sweeps already expanded by the loader) × seeds,
/// in file order, seeds innermost. Combinations that cannot run are kept in the plan with a reason
/// (as benchopt does), so the summary says why a cell is empty. Two entries that resolve to the same
/// configuration (a plain entry repeated as a sweep point) run once, under the first label.
/// </summary>
public static class Planner
{
    public static IReadOnlyList<PlannedRun> Plan(ExperimentConfig config, string resolvedDevice)
    {
        var workloadKind = WorkloadCatalog.All.First(d => d.SpecType == config.Workload.GetType()).Kind;
        var runs = new List<PlannedRun>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var variant in config.Optimizers)
        {
            var descriptor = OptimizerCatalog.Find(variant.Kind)
                ?? throw new InvalidOperationException($"optimizer kind '{variant.Kind}' is not in the catalog");
            foreach (var seed in config.Seeds)
            {
                var spec = new RunSpec(config.Name, DeviceKind(resolvedDevice), variant.EffectiveStepMode(config.StepMode), workloadKind, config.Workload,
                    variant.EffectiveTraining(config.Training), config.Schedule, variant.Kind, variant.Options, seed)
                    { Devices = config.Devices > 1 ? config.Devices : null };
                var id = spec.RunId();
                if (seen.Add(id)) runs.Add(new PlannedRun(id, spec, variant, seed, SkipReason(config, variant, descriptor)));
            }
        }
        return runs;
    }

    /// <summary>CPU and CUDA runs differ in their numbers; which CUDA ordinal ran them does not.</summary>
    private static string DeviceKind(string device) => device.StartsWith("cuda", StringComparison.Ordinal) ? "cuda" : "cpu";

    private static string? SkipReason(ExperimentConfig config, OptimizerVariant variant, OptimizerDescriptor descriptor)
    {
        if (variant.EffectiveStepMode(config.StepMode) == StepMode.FusedBackward)
        {
            if (!descriptor.Traits.HasFlag(OptimizerTraits.PerParameterStep))
                return $"'{descriptor.Kind}' has no per-parameter step, which fused_backward needs";
            if (!descriptor.Traits.HasFlag(OptimizerTraits.SlabStep))
                return $"'{descriptor.Kind}' is not element-wise (no SlabStep trait), so fused_backward cannot step it slab by slab";
            if (variant.EffectiveTraining(config.Training).ForgeKernel is ForgeKernelMode.Tile or ForgeKernelMode.TileFma && !descriptor.Traits.HasFlag(OptimizerTraits.TileFusedLinear))
                return $"forge_kernel tile: '{descriptor.Kind}' has no tile-fused kernel (no TileFusedLinear trait); use auto or slabs";
        }
        if (variant.EffectiveStepMode(config.StepMode) == StepMode.PerLayer && !descriptor.Traits.HasFlag(OptimizerTraits.PerParameterStep))
            return $"'{descriptor.Kind}' has no per-parameter step (no PerParameterStep trait), which per_layer needs";
        if (config.Training.Dtype == TrainingDType.Mixed && config.Workload is not (LlamaSpec or Gpt2Spec))
            return "training.dtype mixed (bf16 compute, fp32 master weights) is built into the language models' layers (llama, gpt2) only; use float32 or bfloat16";
        return null;
    }
}
