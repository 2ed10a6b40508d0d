using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Harness.Optimizers.LowRank;
using TorchSharp;
using static TorchSharp.torch;

namespace Harness.Optimizers.Benchmarks;

/// <summary>
/// One GaLore projector refresh of one matrix on CPU (one thread): the reference's full SVD against
/// <c>projector: subspace_iteration</c> with 1 and 2 iterations, at LLaMA-60M's shapes and rank (GaLore's
/// <c>llama_60m</c> run: rank 128; attention 512×512, MLP 1376×512) and a LLaMA-1B attention matrix (2048², rank 512).
/// <c>./run.sh bench --filter '*ProjectorRefresh*'</c>.
/// </summary>
[Config(typeof(Config))]
public class ProjectorRefreshBenchmarks
{
    private sealed class Config : ManualConfig
    {
        public Config()
        {
            AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance).WithWarmupCount(1).WithIterationCount(3));
            WithOptions(ConfigOptions.DisableOptimizationsValidator);
        }
    }

    private SvdProjector? _projector;
    private Tensor? _grad;

    [Params("512x512 r128", "1376x512 r128", "2048x2048 r512")]
    public string Shape { get; set; } = "512x512 r128";

    [Params("svd", "subspace_iteration q1", "subspace_iteration q2")]
    public string Refresh { get; set; } = "svd";

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(1);
        var parts = Shape.Split(' ');
        var dims = parts[0].Split('x').Select(long.Parse).ToArray();
        var rank = int.Parse(parts[1][1..], System.Globalization.CultureInfo.InvariantCulture);
        var iterative = Refresh.StartsWith("subspace", StringComparison.Ordinal);
        _projector = new SvdProjector(dims, ScalarType.Float32, CPU, rank, 1, 0.25, "std", refresh: iterative ? ProjectorRefresh.SubspaceIteration : ProjectorRefresh.Svd,
            iterations: iterative ? int.Parse(Refresh[^1..], System.Globalization.CultureInfo.InvariantCulture) : SubspaceIteration.DefaultIterations);
        var gen = new Generator(3, CPU);
        _grad = randn(dims, generator: gen).DetachFromDisposeScope();
        _projector.RefreshIfDue(_grad, 0); // the first refresh is an SVD either way
    }

    [Benchmark]
    public void RefreshOnce()
    {
        using var scope = NewDisposeScope();
        _projector!.RefreshIfDue(_grad!, 1);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var (_, t) in _projector!.Tensors) t.Dispose();
        _grad?.Dispose();
    }
}
