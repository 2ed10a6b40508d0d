using Harness.Reports.Rendering;
using Harness.Results;

namespace Harness.Reports.Charts;

/// <summary>
/// The step-benchmark chart (<c>harness bench-step</c>): ratio to the floor per configuration (lower is better; 1 = at the
/// larger of the memory and the compute floor), on a log axis (fused steps sit near 1×, tensor-ops ones up to ~200×), grouped by parameter set,
/// optimizer and implementation.
/// </summary>
public static class StepBenchChart
{
    public static BarChart Chart(IReadOnlyList<StepBenchResult> rows) => new()
    {
        Name = "step_bench",
        Title = "Optimizer step vs its floor (memory bandwidth or matmul throughput)",
        YLabel = "step time / floor (median, log scale)",
        Unit = "×",
        LogY = rows.All(r => r.RatioToFloor > 0),
        Bars = rows.OrderBy(r => r.Parameters).ThenBy(r => r.Optimizer, StringComparer.Ordinal).ThenBy(r => ImplementationOrder(r.Implementation))
            .Select(r => new BarItem
        {
            Label = $"{r.ParameterSet}\n{r.Optimizer}\n[{r.Implementation}]",
            Optimizer = r.Optimizer,
            Segments = [new BarSegment("step / floor", r.RatioToFloor, true)],
            Annotation = FormattableString.Invariant($"{r.MedianMs:F2} ms"),
        }).ToList(),
        Notes =
        [
            "floor = the larger of bytes moved (params read+written, grads read, state read+written) / device-to-device copy bandwidth",
            "and matmul FLOPs of the step / matmul throughput, both measured in the same run; projection refreshes excluded (refresh_ms columns)",
        ],
    };

    /// <summary>Writes step_bench.png and step_bench.svg of <paramref name="rows"/> into <paramref name="outDir"/>.</summary>
    public static void Render(IReadOnlyList<StepBenchResult> rows, string outDir)
    {
        // ~110 px a bar keeps the three-line labels ("llama-1.5b / adamw / [pytorch-foreach]") apart.
        var rendered = new ChartRenderer(new Palette(rows.Select(r => r.Optimizer)), Math.Max(1200, 110 * rows.Count), 600).Render(Chart(rows));
        AtomicFile.Write(Path.Combine(outDir, "step_bench.png"), s => s.Write(rendered.Png));
        AtomicFile.WriteText(Path.Combine(outDir, "step_bench.svg"), rendered.Svg);
    }

    // Ours first, then PyTorch's, then the reference implementation; anything else after them.
    private static int ImplementationOrder(string implementation) =>
        Array.IndexOf(["cuda-fused", "pytorch-fused", "pytorch-foreach", "tensor-ops"], implementation) is var i and >= 0 ? i : 4;
}
