using System.Runtime.InteropServices;
using Harness.Results;
using static TorchSharp.torch;

namespace Harness.Core.Bench;

/// <summary>
/// The step benchmark over parameter sets × cases (<c>harness bench-step</c>; every catalog optimizer, its variants and
/// each implementation it has, <see cref="StepBenchCase.Expand"/>): each configuration measured by <see cref="StepBench"/>
/// and <c>step-bench.csv</c> rewritten after each, so a long run stopped early keeps what it measured. Slow tensor-ops
/// paths (<see cref="StepBenchCase.Slow"/>) time at most <see cref="SlowSteps"/> steps.
/// </summary>
public sealed record StepBenchSweep
{
    public required IReadOnlyList<ParameterSet> Sets { get; init; }
    public required IReadOnlyList<StepBenchCase> Cases { get; init; }
    public required ScalarType DType { get; init; }
    public required int Warmup { get; init; }
    public required int Steps { get; init; }
    public required int SlowSteps { get; init; }
    /// <summary>Timed steps of the refresh-at-every-step run (0: refreshes are not timed).</summary>
    public required int RefreshSteps { get; init; }
    /// <summary>
    /// False (the default): a refresh is timed on the first implementation row of each optimizer and set only, as every
    /// implementation refreshes through the same projector code today (an SVD of each 1B matrix costs seconds); true:
    /// on every row.
    /// </summary>
    public bool RefreshEveryImplementation { get; init; }

    /// <summary>Timed steps for one configuration.</summary>
    public int StepsFor(StepBenchCase benchCase) => benchCase.Slow ? Math.Min(Steps, SlowSteps) : Steps;

    /// <summary>
    /// Measures every configuration in order, yielding each outcome as it is known; after each measurement the CSV at
    /// <paramref name="csvPath"/> holds the rows so far followed by <paramref name="compared"/>.
    /// </summary>
    public IEnumerable<StepBenchOutcome> Run(StepBench bench, DeviceRates rates, IReadOnlyList<StepBenchResult> compared, string csvPath)
    {
        ArgumentNullException.ThrowIfNull(bench);
        var results = new List<StepBenchResult>();
        var refreshTimed = new HashSet<(string, string)>();
        foreach (var set in Sets)
            foreach (var c in Cases)
            {
                StepBenchOutcome outcome;
                try
                {
                    var refreshSteps = !RefreshEveryImplementation && !refreshTimed.Add((set.Name, c.Optimizer)) ? 0
                        : c.Slow ? Math.Min(RefreshSteps, SlowSteps) : RefreshSteps;
                    var r = bench.Run(set, c, DType, Warmup, StepsFor(c), refreshSteps, rates);
                    results.Add(r);
                    StepBenchCsv.Write(csvPath, [.. results, .. compared]);
                    outcome = new(set.Name, c.Optimizer, c.Implementation, r, null);
                }
                catch (Exception e) when (e is InvalidOperationException or ArgumentException or ExternalException)
                {
                    outcome = new(set.Name, c.Optimizer, c.Implementation, null, e.Message.Split('\n')[0]);
                }
                yield return outcome;
            }
    }
}
