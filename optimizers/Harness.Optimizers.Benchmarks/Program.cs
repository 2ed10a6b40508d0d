using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Harness.Optimizers;
using TorchSharp;
using static TorchSharp.torch;

namespace Harness.Optimizers.Benchmarks;

/// <summary>
/// CPU micro-benchmarks of one optimizer step for every optimizer of the catalog (<c>./run.sh bench</c>), in each CPU
/// implementation its options accept (<c>tensor-ops</c>, the per-tensor reference, and <c>batched</c>, the shape-batched
/// step; one row with the defaults where there is no choice), on two LLaMA-like decoder layers (hidden 256, ffn 688:
/// per layer q, k, v, o 256×256, gate and up 688×256, down 256×688, two norms), a 1000×256 embedding and a final
/// norm: 1,838,336 parameters, so each shape group stacks several matrices as in a real model. Each benchmark is one
/// <c>Step</c> with fixed gradients after the state exists (the first step, where lazy state, Gefen's codebook and the
/// projections are built, runs in the setup; BenchmarkDotNet then runs hundreds of steps, so the later refreshes of the default
/// gaps, an SVD every 50 steps for GaLore and Q-GaLore, fall inside the timed steps, amortised).
/// In-process, so the TorchSharp native library of this build is the one used.
/// </summary>
[Config(typeof(Config))]
[MemoryDiagnoser]
public class OptimizerStepBenchmarks
{
    /// <summary>The step rows' job (also <see cref="GaLoreFloorBenchmarks"/>'s, so the two are timed alike).</summary>
    internal sealed class Config : ManualConfig
    {
        public Config()
        {
            AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance).WithWarmupCount(2).WithIterationCount(5));
            WithOptions(ConfigOptions.DisableOptimizationsValidator);
        }
    }

    /// <summary>The benchmarked parameter set (also <see cref="GaLoreFloorBenchmarks"/>'s).</summary>
    internal static readonly (string Name, long[] Shape, ParamRole Role)[] Shapes =
    [
        ("embed", [1000, 256], ParamRole.Embedding),
        .. Enumerable.Range(0, 2).SelectMany(Layer),
        ("norm", [256], ParamRole.Vector),
    ];

    private static IEnumerable<(string Name, long[] Shape, ParamRole Role)> Layer(int i) =>
    [
        ($"{i}.q", [256, 256], ParamRole.Matrix), ($"{i}.k", [256, 256], ParamRole.Matrix), ($"{i}.v", [256, 256], ParamRole.Matrix),
        ($"{i}.o", [256, 256], ParamRole.Matrix), ($"{i}.gate", [688, 256], ParamRole.Matrix), ($"{i}.up", [688, 256], ParamRole.Matrix),
        ($"{i}.down", [256, 688], ParamRole.Matrix), ($"{i}.norm1", [256], ParamRole.Vector), ($"{i}.norm2", [256], ParamRole.Vector),
    ];

    private static readonly string[] CpuImplementations = ["tensor-ops", "batched"];

    private List<NamedParameter> _parameters = [];
    private List<Tensor> _grads = [];
    private IOptimizer? _optimizer;

    /// <summary>"kind", or "kind implementation" for each CPU implementation of an optimizer that has more than one.</summary>
    public static IEnumerable<string> Cases => OptimizerCatalog.All.SelectMany(d =>
        d.AcceptedImplementations(CpuImplementations) is { Count: > 1 } impls ? impls.Select(i => $"{d.Kind} {i}") : [d.Kind]);

    [ParamsSource(nameof(Cases))]
    public string Optimizer { get; set; } = "adamw";

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(1);
        var gen = new Generator(5, CPU);
        _parameters = Shapes.Select(s => new NamedParameter(s.Name, new TorchSharp.Modules.Parameter(randn(s.Shape, generator: gen) * 0.02), s.Role)).ToList();
        _grads = Shapes.Select(s => (randn(s.Shape, generator: gen) * 1e-3).DetachFromDisposeScope()).ToList();
        var parts = Optimizer.Split(' ');
        var d = OptimizerCatalog.Find(parts[0])!;
        _optimizer = d.Create(_parameters, parts.Length > 1 ? d.DefaultOptionsWith(parts[1]) : d.DefaultOptions());
        for (var i = 0; i < _parameters.Count; i++) _parameters[i].Value.grad = _grads[i];
        _optimizer.Step(1e-4); // lazy state, codebook, projections
    }

    [Benchmark]
    public void Step() => _optimizer!.Step(1e-4);

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var p in _parameters) p.Value.grad = null;
        _optimizer?.Dispose();
        foreach (var g in _grads) g.Dispose();
        foreach (var p in _parameters) p.Value.Dispose();
    }
}

public static class Program
{
    public static int Main(string[] args)
    {
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args.Length == 0 ? ["--filter", "*"] : args);
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }
}
