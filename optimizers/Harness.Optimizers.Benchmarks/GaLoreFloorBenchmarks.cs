using BenchmarkDotNet.Attributes;
using Harness.Optimizers.GaLore;
using Harness.Optimizers.LowRank;
using TorchSharp;
using static TorchSharp.torch;

namespace Harness.Optimizers.Benchmarks;

/// <summary>
/// The library calls a GaLore step cannot avoid on CPU, timed alone on <see cref="OptimizerStepBenchmarks"/>'s parameter set
/// with GaLore's default options (rank 32, <c>std</c>, gap 50), so the step rows of <c>galore</c> can be read against them:
/// <c>products</c> = for each of the 14 matrices the projection <c>Aᵀ·G</c> or <c>G·Bᵀ</c> and the projection back added into
/// the weight (one <c>addmm</c>), one after another as in a step (each matrix leaves the cache before it comes back);
/// <c>svd refresh</c> = the reference's <c>linalg.svd(G, full_matrices=False)</c> of every matrix, the work of one refresh
/// (a step carries 1/50 of it). What a step adds beyond these is element-wise Adam on the low-rank moments and on the
/// full-rank embedding and norms. <c>./run.sh bench --filter '*GaLoreFloor*' '*galore*'</c>.
/// </summary>
[Config(typeof(OptimizerStepBenchmarks.Config))]
public class GaLoreFloorBenchmarks
{
    private readonly List<(SvdProjector Projector, Tensor Weight, Tensor Grad, Tensor Direction)> _matrices = [];

    [Params("products", "svd refresh")]
    public string Part { get; set; } = "products";

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(1);
        var options = new GaLoreOptions();
        var gen = new Generator(5, CPU);
        foreach (var (_, shape, _) in OptimizerStepBenchmarks.Shapes.Where(s => s.Role == ParamRole.Matrix))
        {
            var weight = (randn(shape, generator: gen) * 0.02).DetachFromDisposeScope();
            var grad = (randn(shape, generator: gen) * 1e-3).DetachFromDisposeScope();
            var projector = new SvdProjector(shape, ScalarType.Float32, CPU, options.Rank, options.UpdateProjGap, options.Scale, options.ProjType);
            projector.RefreshIfDue(grad, 0);
            _matrices.Add((projector, weight, grad, randn(projector.ProjectedShape, generator: gen).DetachFromDisposeScope()));
        }
    }

    [Benchmark]
    public void Run()
    {
        using var scope = NewDisposeScope();
        foreach (var (projector, weight, grad, direction) in _matrices)
        {
            if (Part == "products")
            {
                projector.Project(grad, 1); // step 1: no refresh
                projector.AddProjectBack(weight, direction, -1e-9);
            }
            else linalg.svd(grad, fullMatrices: false);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var (projector, weight, grad, direction) in _matrices)
        {
            foreach (var (_, t) in projector.Tensors) t.Dispose();
            weight.Dispose();
            grad.Dispose();
            direction.Dispose();
        }
        _matrices.Clear();
    }
}
