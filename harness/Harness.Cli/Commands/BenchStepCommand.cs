using System.CommandLine;
using Harness.Core.Bench;
using Harness.Core.Devices;
using Harness.Optimizers.Kernels;
using Harness.Reports.Charts;
using Harness.Results;
using static TorchSharp.torch;

namespace Harness.Cli.Commands;

/// <summary>
/// <c>harness bench-step</c>: the CUDA optimizer-step benchmark (<see cref="StepBenchSweep"/>) over the GPT-2-124M and
/// LLaMA-1.5B parameter sets, per optimizer and implementation. Writes step-bench.csv (<see cref="StepBenchCsv"/>) and a
/// chart (<see cref="StepBenchChart"/>); <c>--compare</c> merges rows measured elsewhere (the PyTorch script under
/// tests/gpu) into the table and chart.
/// </summary>
public static class BenchStepCommand
{
    public static Command Create()
    {
        var sets = new Option<string>("--sets") { Description = "comma-separated parameter sets", DefaultValueFactory = _ => "gpt2-124m,llama-1.5b" };
        var optimizers = new Option<string>("--optimizers") { Description = "comma-separated optimizer kinds", DefaultValueFactory = _ => string.Join(",", StepBenchSweep.DefaultOptimizers) };
        var implementations = new Option<string>("--implementations") { Description = "tensor-ops, cuda-fused or both", DefaultValueFactory = _ => "cuda-fused,tensor-ops" };
        var dtype = new Option<string>("--dtype") { Description = "float32 or bfloat16", DefaultValueFactory = _ => "float32" };
        var steps = new Option<int>("--steps") { Description = "timed steps (median reported)", DefaultValueFactory = _ => 20 };
        var slowSteps = new Option<int>("--tensor-ops-steps") { Description = "timed steps for the slow tensor-ops 8-bit/Gefen runs", DefaultValueFactory = _ => 5 };
        var warmup = new Option<int>("--warmup") { Description = "untimed steps first", DefaultValueFactory = _ => 2 };
        var output = new Option<string>("--out") { Description = "output folder", DefaultValueFactory = _ => "runs/step-bench" };
        var compare = new Option<string?>("--compare") { Description = "a CSV of the same columns to merge (e.g. PyTorch's fused AdamW)" };
        var ifCuda = new Option<bool>("--if-cuda") { Description = "exit 0 with a note when no CUDA device is present (for ./run.sh bench)" };
        var chartFrom = new Option<string?>("--chart-from") { Description = "no benchmark: render step_bench.png/.svg from a saved step-bench CSV (any machine)" };
        var command = new Command("bench-step", "optimizer-step benchmark on CUDA against the copy-bandwidth floor")
        {
            sets, optimizers, implementations, dtype, steps, slowSteps, warmup, output, compare, ifCuda, chartFrom,
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
            var impls = Split(parse.GetValue(implementations)!);
            foreach (var i in impls.Where(i => i is not (ImplementationChoice.TensorOps or ImplementationChoice.CudaFused)))
            {
                Console.Error.WriteLine($"harness: --implementations: '{i}' is not tensor-ops or cuda-fused");
                return ExitCodes.BadInput;
            }
            var scalar = parse.GetValue(dtype) switch { "float32" => ScalarType.Float32, "bfloat16" => ScalarType.BFloat16, _ => (ScalarType?)null };
            if (scalar is null)
            {
                Console.Error.WriteLine($"harness: --dtype: '{parse.GetValue(dtype)}' is not float32 or bfloat16");
                return ExitCodes.BadInput;
            }
            var compareRows = parse.GetValue(compare) is { } comparePath ? StepBenchCsv.Read(comparePath) : [];

            var libTorch = LibTorchDiscovery.Discover(Environment.GetEnvironmentVariable(LibTorchDiscovery.EnvironmentVariable));
            using var session = DeviceSession.Open(CUDA, libTorch, DeviceSession.FindProbeSource(), HarnessCache.Directory());
            Console.WriteLine($"measurement: {session.ProbeStatus}; optimizer kernels: {session.KernelStatus}");
            var gpu = ProvenanceProbe.Collect(CUDA).DeviceName;
            var bench = new StepBench(session, gpu);
            var bandwidth = bench.MeasureBandwidth();
            Console.WriteLine(FormattableString.Invariant($"{gpu}: device-to-device copy bandwidth {bandwidth / 1e12:F3} TB/s (read + write)"));
            // Rows from elsewhere take this run's bandwidth so every floor in the table is the same measurement.
            var compared = compareRows.Select(r => r with { BandwidthBytesPerS = bandwidth }).ToList();
            var outDir = parse.GetValue(output)!;
            Directory.CreateDirectory(outDir);
            var csvPath = Path.Combine(outDir, "step-bench.csv");
            var sweep = new StepBenchSweep
            {
                Sets = chosenSets, Optimizers = Split(parse.GetValue(optimizers)!), Implementations = impls, DType = scalar.Value,
                Warmup = parse.GetValue(warmup), Steps = parse.GetValue(steps), SlowSteps = parse.GetValue(slowSteps),
            };
            var results = new List<StepBenchResult>();
            foreach (var o in sweep.Run(bench, bandwidth, compared, csvPath))
            {
                if (o.Result is not { } r)
                {
                    Console.WriteLine($"{o.ParameterSet} {o.Optimizer} {o.Implementation}: failed: {o.Error}");
                    continue;
                }
                results.Add(r);
                Console.WriteLine(FormattableString.Invariant(
                    $"{o.ParameterSet,-11} {o.Optimizer,-9} {r.Implementation,-11} {r.MedianMs,9:F3} ms  floor {r.FloorMs,7:F3} ms  x{r.RatioToFloor,5:F2}  state {r.StateBytes,14:N0} B  transient {r.TransientBytes,14:N0} B"));
            }
            results.AddRange(compared);
            StepBenchCsv.Write(csvPath, results);
            StepBenchChart.Render(results, outDir);
            Console.WriteLine($"bench-step: {results.Count} row(s) -> {csvPath}");
            return results.Count > 0 ? ExitCodes.Ok : ExitCodes.Failed;
        });
        return command;
    }

    private static string[] Split(string s) => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
