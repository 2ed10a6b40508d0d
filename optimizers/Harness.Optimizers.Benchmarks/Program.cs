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
/// CPU micro-benchmarks of one optimizer step for every optimizer of the catalog (<c>./run.sh bench</c>), on a
/// small LLaMA-like block of parameters (two 256×256 attention matrices, a 256×688 and a 688×256 MLP matrix, an
/// 1000×256 embedding and two norms: 746,496 parameters). Each benchmark is one <c>Step</c> with fixed
/// gradients after the state exists (the first step, where lazy state, Gefen's codebook and the projections
/// are built, runs in the setup). In-process, so the TorchSharp native library of this build is the one used.
/// </summary>
[Config(typeof(Config))]
[MemoryDiagnoser]
public class OptimizerStepBenchmarks
{
    private sealed class Config : ManualConfig
    {
        public Config()
        {
            AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance).WithWarmupCount(2).WithIterationCount(5));
            WithOptions(ConfigOptions.DisableOptimizationsValidator);
        }
    }

    private static readonly (string Name, long[] Shape, ParamRole Role)[] Shapes =
    [
        ("embed", [1000, 256], ParamRole.Embedding), ("q", [256, 256], ParamRole.Matrix), ("o", [256, 256], ParamRole.Matrix),
        ("up", [688, 256], ParamRole.Matrix), ("down", [256, 688], ParamRole.Matrix), ("norm1", [256], ParamRole.Vector), ("norm2", [256], ParamRole.Vector),
    ];

    private List<NamedParameter> _parameters = [];
    private List<Tensor> _grads = [];
    private IOptimizer? _optimizer;

    public static IEnumerable<string> Kinds => OptimizerCatalog.All.Select(d => d.Kind);

    [ParamsSource(nameof(Kinds))]
    public string Optimizer { get; set; } = "adamw";

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(1);
        var gen = new Generator(5, CPU);
        _parameters = Shapes.Select(s => new NamedParameter(s.Name, new TorchSharp.Modules.Parameter(randn(s.Shape, generator: gen) * 0.02), s.Role)).ToList();
        _grads = Shapes.Select(s => (randn(s.Shape, generator: gen) * 1e-3).DetachFromDisposeScope()).ToList();
        var d = OptimizerCatalog.Find(Optimizer)!;
        _optimizer = d.Create(_parameters, d.DefaultOptions());
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
