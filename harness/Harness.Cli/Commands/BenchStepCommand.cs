using System.CommandLine;
using Harness.Core.Bench;
using Harness.Core.Devices;
using Harness.Reports.Charts;
using Harness.Results;
using static TorchSharp.torch;

namespace Harness.Cli.Commands;

/// <summary>
/// <c>harness bench-step</c>: the CUDA optimizer-step benchmark (<see cref="StepBenchSweep"/>) over the LLaMA-60M, GPT-2-124M,
/// LLaMA-1B and LLaMA-1.5B parameter sets, every catalog optimizer and implementation, against the larger of its memory and
/// compute floors. Writes step-bench.csv (<see cref="StepBenchCsv"/>) and a
/// chart (<see cref="StepBenchChart"/>); <c>--compare</c> merges rows measured elsewhere (the PyTorch script under
/// tests/gpu) into the table and chart.
/// </summary>
public static class BenchStepCommand
{
    public static Command Create()
    {
        var sets = new Option<string>("--sets") { Description = "comma-separated parameter sets", DefaultValueFactory = _ => string.Join(",", ParameterSets.All.Select(s => s.Name)) };
        var optimizers = new Option<string>("--optimizers") { Description = "comma-separated optimizers (catalog kinds and variants such as apollo-mini) or all", DefaultValueFactory = _ => All };
        var implementations = new Option<string>("--implementations") { Description = "comma-separated subset of tensor-ops, batched, cuda-fused, or all (each optimizer runs those it has)", DefaultValueFactory = _ => All };
        var dtype = new Option<string>("--dtype") { Description = "float32 or bfloat16", DefaultValueFactory = _ => "float32" };
        var steps = new Option<int>("--steps") { Description = "timed steps (median reported)", DefaultValueFactory = _ => 20 };
        var slowSteps = new Option<int>("--tensor-ops-steps") { Description = "timed steps for the slow tensor-ops paths (8-bit, Gefen, projections)", DefaultValueFactory = _ => 5 };
        var refreshSteps = new Option<int>("--refresh-steps") { Description = "timed steps with a projection refresh at each (0: refreshes not timed)", DefaultValueFactory = _ => 3 };
        var refreshAll = new Option<bool>("--refresh-every-implementation") { Description = "time the refresh on every implementation row, not only the first of each optimizer" };
        var warmup = new Option<int>("--warmup") { Description = "untimed steps first", DefaultValueFactory = _ => 2 };
        var output = new Option<string>("--out") { Description = "output folder", DefaultValueFactory = _ => "runs/step-bench" };
        var compare = new Option<string?>("--compare") { Description = "a CSV of the same columns to merge (e.g. PyTorch's fused AdamW)" };
        var ifCuda = new Option<bool>("--if-cuda") { Description = "exit 0 with a note when no CUDA device is present (for ./run.sh bench)" };
        var chartFrom = new Option<string?>("--chart-from") { Description = "no benchmark: render step_bench.png/.svg from a saved step-bench CSV (any machine)" };
        var command = new Command("bench-step", "optimizer-step benchmark on CUDA against its memory-bandwidth and matmul floors")
        {
            sets, optimizers, implementations, dtype, steps, slowSteps, refreshSteps, refreshAll, warmup, output, compare, ifCuda, chartFrom,
        };
        command.SetAction(parse =>
        {
            if (parse.GetValue(chartFrom) is { } saved)
            {
                var rows = StepBenchCsv.Read(saved); // a file that is not a step-bench CSV: one line from CliErrors, exit 2
                if (rows.Count == 0)
                {
                    Console.Error.WriteLine($"harness: {saved}: no rows");
                    return ExitCodes.BadInput;
                }
                var dir = parse.GetValue(output)!;
                Directory.CreateDirectory(dir);
                StepBenchChart.Render(rows, dir);
                Console.WriteLine($"bench-step: chart of {rows.Count} row(s) from {saved} -> {Path.Combine(dir, "step_bench.png")}");
                return ExitCodes.Ok;
            }
            var chosenSets = new List<ParameterSet>();
            foreach (var name in Split(parse.GetValue(sets)!))
            {
                if (ParameterSets.Find(name) is not { } set)
                {
                    Console.Error.WriteLine($"harness: --sets: unknown parameter set '{name}' (known: {string.Join(", ", ParameterSets.All.Select(s => s.Name))})");
                    return ExitCodes.BadInput;
                }
                chosenSets.Add(set);
            }
            var impls = parse.GetValue(implementations) is All or null ? null : Split(parse.GetValue(implementations)!);
            foreach (var i in (impls ?? []).Where(i => !StepBenchCase.Implementations.Contains(i)))
            {
                Console.Error.WriteLine($"harness: --implementations: '{i}' is not one of {string.Join(", ", StepBenchCase.Implementations)} (or all)");
                return ExitCodes.BadInput;
            }
            var names = parse.GetValue(optimizers) is All or null ? null : Split(parse.GetValue(optimizers)!);
            foreach (var n in (names ?? []).Where(n => !StepBenchCase.OptimizerNames.Contains(n)))
            {
                Console.Error.WriteLine($"harness: --optimizers: unknown optimizer '{n}' (known: {string.Join(", ", StepBenchCase.OptimizerNames)})");
                return ExitCodes.BadInput;
            }
            var scalar = parse.GetValue(dtype) switch { "float32" => ScalarType.Float32, "bfloat16" => ScalarType.BFloat16, _ => (ScalarType?)null };
            if (scalar is null)
            {
                Console.Error.WriteLine($"harness: --dtype: '{parse.GetValue(dtype)}' is not float32 or bfloat16");
                return ExitCodes.BadInput;
            }
            if (!cuda.is_available())
            {
                if (parse.GetValue(ifCuda))
                {
                    Console.WriteLine("bench-step: no CUDA device here; the CUDA step benchmark was skipped");
                    return ExitCodes.Ok;
                }
                Console.Error.WriteLine("harness: bench-step needs CUDA, which is not available here");
                return ExitCodes.BadInput;
            }
            var compareRows = parse.GetValue(compare) is { } comparePath ? StepBenchCsv.Read(comparePath) : [];

            var libTorch = LibTorchDiscovery.Discover(Environment.GetEnvironmentVariable(LibTorchDiscovery.EnvironmentVariable));
            using var session = DeviceSession.Open(CUDA, libTorch, DeviceSession.FindProbeSource(), HarnessCache.Directory());
            Console.WriteLine($"measurement: {session.ProbeStatus}; optimizer kernels: {session.KernelStatus}");
            var gpu = ProvenanceProbe.Collect(CUDA).DeviceName;
            var bench = new StepBench(session, gpu);
            var rates = bench.MeasureRates(scalar.Value);
            Console.WriteLine(FormattableString.Invariant(
                $"{gpu}: device-to-device copy bandwidth {rates.BandwidthBytesPerS / 1e12:F3} TB/s (read + write), {parse.GetValue(dtype)} matmul {rates.MatmulFlopsPerS / 1e12:F1} TFLOP/s, bf16 {rates.BFloat16MatmulFlopsPerS / 1e12:F1}"));
            // Rows from elsewhere take this run's rates so every floor in the table is the same measurement.
            var compared = compareRows.Select(r => r with { BandwidthBytesPerS = rates.BandwidthBytesPerS, MatmulFlopsPerS = rates.MatmulFlopsPerS }).ToList();
            var outDir = parse.GetValue(output)!;
            Directory.CreateDirectory(outDir);
            var csvPath = Path.Combine(outDir, "step-bench.csv");
            var sweep = new StepBenchSweep
            {
                Sets = chosenSets, Cases = StepBenchCase.Expand(names, impls), DType = scalar.Value, Warmup = parse.GetValue(warmup),
                Steps = parse.GetValue(steps), SlowSteps = parse.GetValue(slowSteps), RefreshSteps = parse.GetValue(refreshSteps),
                RefreshEveryImplementation = parse.GetValue(refreshAll),
            };
            var results = new List<StepBenchResult>();
            foreach (var o in sweep.Run(bench, rates, compared, csvPath))
            {
                if (o.Result is not { } r)
                {
                    Console.WriteLine($"{o.ParameterSet} {o.Optimizer} {o.Implementation}: failed: {o.Error}");
                    continue;
                }
                results.Add(r);
                Console.WriteLine(FormattableString.Invariant(
                    $"{o.ParameterSet,-11} {o.Optimizer,-11} {r.Implementation,-11} {r.MedianMs,9:F3} ms  floor {r.FloorMs,7:F3} ms (memory {r.MemoryFloorMs:F3}, compute {r.ComputeFloorMs:F3})  x{r.RatioToFloor,5:F2}  refresh {r.RefreshMs:F1} ms/{r.RefreshEvery}  state {r.StateBytes,14:N0} B  transient {r.TransientBytes,14:N0} B"));
            }
            results.AddRange(compared);
            StepBenchCsv.Write(csvPath, results);
            StepBenchChart.Render(results, outDir);
            Console.WriteLine($"bench-step: {results.Count} row(s) -> {csvPath}");
            return results.Count > 0 ? ExitCodes.Ok : ExitCodes.Failed;
        });
        return command;
    }

    private const string All = "all";

    private static string[] Split(string s) => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
