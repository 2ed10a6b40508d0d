using System.CommandLine;
using System.Globalization;
using CsvHelper;
using Harness.Core.Bench;
using Harness.Core.Devices;
using Harness.Results;
using System.Runtime.InteropServices;
using Harness.Optimizers.Kernels;
using Harness.Reports.Charts;
using Harness.Reports.Rendering;
using static TorchSharp.torch;

namespace Harness.Cli.Commands;

/// <summary>
/// <c>harness bench-step</c>: the CUDA optimizer-step benchmark over the GPT-2-124M and LLaMA-1.5B parameter
/// sets, per optimizer and implementation (tensor-ops and cuda-fused): median step ms, state bytes, step
/// transient, bytes moved, the copy-bandwidth floor measured in the same run and the ratio to it. Writes
/// step-bench.csv and a chart (step_bench.png/.svg); <c>--compare</c> merges rows measured elsewhere (the
/// PyTorch script under tests/gpu) into the table and chart.
/// </summary>
public static class BenchStepCommand
{
    public static Command Create()
    {
        var sets = new Option<string>("--sets") { Description = "comma-separated parameter sets", DefaultValueFactory = _ => "gpt2-124m,llama-1.5b" };
        var optimizers = new Option<string>("--optimizers") { Description = "comma-separated optimizer kinds", DefaultValueFactory = _ => "adamw,adam8bit,gefen" };
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
                IReadOnlyList<StepBenchResult> rows;
                try { rows = ReadRows(saved); }
                catch (Exception e) when (e is IOException or CsvHelperException or FormatException or UnauthorizedAccessException)
                {
                    Console.Error.WriteLine($"harness: {saved}: cannot be read as a step-bench CSV ({e.Message.Split('\n')[0]})");
                    return ExitCodes.BadInput;
                }
                if (rows.Count == 0)
                {
                    Console.Error.WriteLine($"harness: {saved}: no rows");
                    return ExitCodes.BadInput;
                }
                var dir = parse.GetValue(output)!;
                Directory.CreateDirectory(dir);
                RenderChart(rows, dir);
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
            var kinds = Split(parse.GetValue(optimizers)!);
            var impls = Split(parse.GetValue(implementations)!);
            foreach (var i in impls.Where(i => i is not (ImplementationChoice.TensorOps or ImplementationChoice.CudaFused)))
            {
                Console.Error.WriteLine($"harness: --implementations: '{i}' is not tensor-ops or cuda-fused");
                return ExitCodes.BadInput;
            }
            var scalar = parse.GetValue(dtype) switch { "float32" => ScalarType.Float32, "bfloat16" => ScalarType.BFloat16, var x => (ScalarType?)null };
            if (scalar is null)
            {
                Console.Error.WriteLine($"harness: --dtype: '{parse.GetValue(dtype)}' is not float32 or bfloat16");
                return ExitCodes.BadInput;
            }
            var compareRows = new List<StepBenchResult>();
            if (parse.GetValue(compare) is { } comparePath)
            {
                try { compareRows.AddRange(ReadRows(comparePath)); }
                catch (Exception e) when (e is IOException or CsvHelperException or FormatException or UnauthorizedAccessException)
                {
                    Console.Error.WriteLine($"harness: {comparePath}: cannot be read as a step-bench CSV ({e.Message.Split('\n')[0]})");
                    return ExitCodes.BadInput;
                }
            }

            var libTorch = LibTorchDiscovery.Discover(Environment.GetEnvironmentVariable(LibTorchDiscovery.EnvironmentVariable));
            using var session = DeviceSession.Open(CUDA, libTorch, DeviceSession.FindProbeSource(), HarnessCache.Directory());
            Console.WriteLine($"measurement: {session.ProbeStatus}; optimizer kernels: {session.KernelStatus}");
            var gpu = ProvenanceProbe.Collect(CUDA).DeviceName;
            var bench = new StepBench(session, gpu);
            var bandwidth = bench.MeasureBandwidth();
            Console.WriteLine(FormattableString.Invariant($"{gpu}: device-to-device copy bandwidth {bandwidth / 1e12:F3} TB/s (read + write)"));
            var results = new List<StepBenchResult>();
            // Rows from elsewhere take this run's bandwidth so every floor in the table is the same measurement.
            var compared = compareRows.Select(r => r with { BandwidthBytesPerS = bandwidth }).ToList();
            var outDir = parse.GetValue(output)!;
            Directory.CreateDirectory(outDir);
            var csvPath = Path.Combine(outDir, "step-bench.csv");
            foreach (var set in chosenSets)
                foreach (var kind in kinds)
                    foreach (var impl in impls)
                    {
                        var n = impl == ImplementationChoice.TensorOps && kind != "adamw" ? Math.Min(parse.GetValue(steps), parse.GetValue(slowSteps)) : parse.GetValue(steps);
                        try
                        {
                            var r = bench.Run(set, kind, impl, scalar.Value, parse.GetValue(warmup), n, bandwidth);
                            results.Add(r);
                            WriteCsv(csvPath, [.. results, .. compared]);  // kept row by row: a long run stopped early keeps what it measured
                            Console.WriteLine(FormattableString.Invariant(
                                $"{set.Name,-11} {kind,-9} {r.Implementation,-11} {r.MedianMs,9:F3} ms  floor {r.FloorMs,7:F3} ms  x{r.RatioToFloor,5:F2}  state {r.StateBytes,14:N0} B  transient {r.TransientBytes,14:N0} B"));
                        }
                        catch (Exception e) when (e is InvalidOperationException or ArgumentException or ExternalException)
                        {
                            Console.WriteLine($"{set.Name} {kind} {impl}: failed: {e.Message.Split('\n')[0]}");
                        }
                    }
            results.AddRange(compared);
            WriteCsv(csvPath, results);
            RenderChart(results, outDir);
            Console.WriteLine($"bench-step: {results.Count} row(s) -> {csvPath}");
            return results.Count > 0 ? ExitCodes.Ok : ExitCodes.Failed;
        });
        return command;
    }

    private static void RenderChart(IReadOnlyList<StepBenchResult> rows, string outDir)
    {
        // ~110 px a bar keeps the three-line labels ("llama-1.5b / adamw / [pytorch-foreach]") apart.
        var rendered = new ChartRenderer(new Palette(rows.Select(r => r.Optimizer)), Math.Max(1200, 110 * rows.Count), 600).Render(Chart(rows));
        AtomicFile.Write(Path.Combine(outDir, "step_bench.png"), s => s.Write(rendered.Png));
        AtomicFile.WriteText(Path.Combine(outDir, "step_bench.svg"), rendered.Svg);
    }

    private static string[] Split(string s) => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>
    /// Ratio to the floor per configuration (lower is better; 1 = at the copy bandwidth), on a log axis (fused steps
    /// sit near 1×, tensor-ops ones up to ~200×), grouped by parameter set, optimizer and implementation.
    /// </summary>
    public static BarChart Chart(IReadOnlyList<StepBenchResult> rows) => new()
    {
        Name = "step_bench",
        Title = "Optimizer step vs its memory-bandwidth floor",
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
        Notes = ["floor = bytes moved (params read+written, grads read, state read+written) / device-to-device copy bandwidth of the same run"],
    };

    // Ours first, then PyTorch's, then the reference implementation; anything else after them.
    private static int ImplementationOrder(string implementation) =>
        Array.IndexOf(["cuda-fused", "pytorch-fused", "pytorch-foreach", "tensor-ops"], implementation) is var i and >= 0 ? i : 4;

    public static void WriteCsv(string path, IReadOnlyList<StepBenchResult> rows)
    {
        using var text = new StringWriter(CultureInfo.InvariantCulture);
        using (var csv = new CsvWriter(text, CultureInfo.InvariantCulture))
        {
            foreach (var h in Columns) csv.WriteField(h);
            csv.NextRecord();
            foreach (var r in rows)
            {
                csv.WriteField(r.Gpu); csv.WriteField(r.ParameterSet); csv.WriteField(r.Parameters); csv.WriteField(r.Optimizer);
                csv.WriteField(r.Implementation); csv.WriteField(r.Dtype); csv.WriteField(r.Steps); csv.WriteField(r.MedianMs);
                csv.WriteField(r.MinMs); csv.WriteField(r.StateBytes); csv.WriteField(r.TransientBytes?.ToString(CultureInfo.InvariantCulture) ?? "");
                csv.WriteField(r.BytesMoved); csv.WriteField(r.BandwidthBytesPerS); csv.WriteField(r.FloorMs); csv.WriteField(r.RatioToFloor);
                csv.WriteField(r.Source);
                csv.NextRecord();
            }
        }
        AtomicFile.WriteText(path, text.ToString());
    }

    public static readonly string[] Columns =
    [
        "gpu", "parameter_set", "parameters", "optimizer", "implementation", "dtype", "steps", "median_ms", "min_ms", "state_bytes",
        "transient_bytes", "bytes_moved", "bandwidth_bytes_per_s", "floor_ms", "ratio_to_floor", "source",
    ];

    public static IReadOnlyList<StepBenchResult> ReadRows(string path)
    {
        using var reader = new StreamReader(path);
        using var csv = new CsvReader(reader, CultureInfo.InvariantCulture);
        csv.Read();
        csv.ReadHeader();
        var rows = new List<StepBenchResult>();
        var ic = CultureInfo.InvariantCulture;
        while (csv.Read())
        {
            var transient = csv.GetField("transient_bytes");
            rows.Add(new StepBenchResult
            {
                Gpu = csv.GetField("gpu")!, ParameterSet = csv.GetField("parameter_set")!, Parameters = long.Parse(csv.GetField("parameters")!, ic),
                Optimizer = csv.GetField("optimizer")!, Implementation = csv.GetField("implementation")!, Dtype = csv.GetField("dtype")!,
                Steps = int.Parse(csv.GetField("steps")!, ic), MedianMs = double.Parse(csv.GetField("median_ms")!, ic),
                MinMs = double.Parse(csv.GetField("min_ms")!, ic), StateBytes = long.Parse(csv.GetField("state_bytes")!, ic),
                TransientBytes = string.IsNullOrEmpty(transient) ? null : long.Parse(transient, ic),
                BytesMoved = long.Parse(csv.GetField("bytes_moved")!, ic), BandwidthBytesPerS = double.Parse(csv.GetField("bandwidth_bytes_per_s")!, ic),
                Source = csv.GetField("source")!,
            });
        }
        return rows;
    }
}
