using Harness.Results;

namespace Harness.Core.Bench;

/// <summary>
/// <c>step-bench.csv</c>: one <see cref="StepBenchResult"/> a row through <see cref="CsvFiles"/> (snake_case headers,
/// invariant culture, atomic writes). The PyTorch script under tests/gpu writes the same columns for <c>--compare</c>.
/// </summary>
public static class StepBenchCsv
{
    /// <summary>
    /// The header, in order (the floors, the ratio and the amortised refresh are written for readers of the file; reading
    /// recomputes them). Files of the earlier columns (no matmul or refresh columns) still read.
    /// </summary>
    public static IReadOnlyList<string> Columns { get; } =
    [
        "gpu", "parameter_set", "parameters", "optimizer", "implementation", "dtype", "steps", "median_ms", "min_ms", "state_bytes",
        "transient_bytes", "bytes_moved", "bandwidth_bytes_per_s", "memory_floor_ms", "matmul_flops", "matmul_flops_per_s", "compute_floor_ms",
        "floor_ms", "ratio_to_floor", "refresh_every", "refresh_ms", "refresh_ms_per_step", "source",
    ];

    /// <summary>Writes every row, header included, atomically.</summary>
    public static void Write(string path, IEnumerable<StepBenchResult> rows) => CsvFiles.WriteAll(path, rows);

    /// <summary>Every row; a file that is not a step-bench CSV gives a <see cref="ResultFormatException"/> naming it.</summary>
    public static IReadOnlyList<StepBenchResult> Read(string path) => CsvFiles.ReadAll<StepBenchResult>(path);
}
