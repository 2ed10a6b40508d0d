using System.Runtime.InteropServices;
using Harness.Optimizers;
using Harness.Optimizers.Kernels;
using Harness.Results;
using static TorchSharp.torch;

namespace Harness.Core.Bench;

/// <summary>
/// The step benchmark over parameter sets × optimizers × implementations (<c>harness bench-step</c>): each configuration
/// measured by <see cref="StepBench"/> and <c>step-bench.csv</c> rewritten after each, so a long run stopped early keeps
/// what it measured. Optimizers whose tensor-ops step is slow (<see cref="CheckSettings.SlowTensorOps"/> on their catalog
/// line) time at most <see cref="SlowSteps"/> steps of it.
/// </summary>
public sealed record StepBenchSweep
{
    /// <summary>
    /// The optimizers the benchmark runs unless told otherwise: those of the catalog whose fused kernel carries its whole
    /// step and whose catalog line gives check options (GaLore and SubTrack++ fuse only their full-rank AdamW part).
    /// </summary>
    public static IReadOnlyList<string> DefaultOptimizers { get; } = Checks.FusedEquivalence.Optimizers.Select(d => d.Kind).ToList();

    public required IReadOnlyList<ParameterSet> Sets { get; init; }
    public required IReadOnlyList<string> Optimizers { get; init; }
    public required IReadOnlyList<string> Implementations { get; init; }
    public required ScalarType DType { get; init; }
    public required int Warmup { get; init; }
    public required int Steps { get; init; }
    public required int SlowSteps { get; init; }

    /// <summary>Timed steps for one configuration.</summary>
    public int StepsFor(string kind, string implementation) =>
        implementation == ImplementationChoice.TensorOps && (OptimizerCatalog.Find(kind)?.Checks.SlowTensorOps ?? true) ? Math.Min(Steps, SlowSteps) : Steps;

    /// <summary>
    /// Measures every configuration in order, yielding each outcome as it is known; after each measurement the CSV at
    /// <paramref name="csvPath"/> holds the rows so far followed by <paramref name="compared"/>.
    /// </summary>
    public IEnumerable<StepBenchOutcome> Run(StepBench bench, double bandwidth, IReadOnlyList<StepBenchResult> compared, string csvPath)
    {
        var results = new List<StepBenchResult>();
        foreach (var set in Sets)
            foreach (var kind in Optimizers)
                foreach (var impl in Implementations)
                {
                    StepBenchOutcome outcome;
                    try
                    {
                        var r = bench.Run(set, kind, impl, DType, Warmup, StepsFor(kind, impl), bandwidth);
                        results.Add(r);
                        StepBenchCsv.Write(csvPath, [.. results, .. compared]);
                        outcome = new(set.Name, kind, impl, r, null);
                    }
                    catch (Exception e) when (e is InvalidOperationException or ArgumentException or ExternalException)
                    {
                        outcome = new(set.Name, kind, impl, null, e.Message.Split('\n')[0]);
                    }
                    yield return outcome;
                }
    }
}
