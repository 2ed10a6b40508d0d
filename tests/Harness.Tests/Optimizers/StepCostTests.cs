using Harness.Core.Bench;
using Harness.Optimizers;
using Harness.Optimizers.Adafactor;
using Harness.Optimizers.AdamW;
using Harness.Optimizers.Apollo;
using Harness.Optimizers.GaLore;
using Harness.Optimizers.Kernels;
using Harness.Optimizers.LowRank;
using Harness.Optimizers.Muon;
using Harness.Optimizers.QGaLore;
using Harness.Optimizers.SubTrackPlusPlus;
using Harness.Optimizers.Swan;
using Parameter = TorchSharp.Modules.Parameter;
using Xunit;
using static TorchSharp.torch;

namespace Harness.Tests.Optimizers;

/// <summary>The step costs every catalog line declares for the step benchmark's floors, against hand-computed values.</summary>
public sealed class StepCostTests
{
    // W 8×32 (Matrix), b [32] (Vector), E 50×8 (Embedding): 688 fp32 parameters, 2,752 bytes.
    private static List<NamedParameter> Parameters() =>
    [
        new("w", new Parameter(zeros(8, 32)), ParamRole.Matrix),
        new("b", new Parameter(zeros(32)), ParamRole.Vector),
        new("e", new Parameter(zeros(50, 8)), ParamRole.Embedding),
    ];

    private static StepCost Cost(string kind, OptimizerOptions options, long stateBytes = 0)
    {
        var parameters = Parameters();
        try
        {
            return OptimizerCatalog.Find(kind)!.StepCost!(parameters, options, stateBytes);
        }
        finally
        {
            foreach (var p in parameters) p.Value.Dispose();
        }
    }

    [Fact]
    public void Bytes_are_parameters_read_and_written_gradients_read_and_state_read_and_written()
    {
        // AdamW: 2·2,752 state bytes; 3·2,752 + 2·5,504 = 19,264 = 28 B × 688 parameters (specs/measurement.md §4.4).
        Assert.Equal(new StepCost(28 * 688, 0, 0), Cost("adamw", new AdamWOptions(), 2 * 2752));
        Assert.Equal(new StepCost(3 * 2752 + 2 * 1000, 0, 0), Cost("adafactor", new AdafactorOptions(), 1000));
        Assert.Equal(3 * 2752, Cost("swan", new SwanOptions()).BytesMoved);
    }

    [Fact]
    public void Projection_flops_are_the_round_trip_of_each_matrix_at_its_rank()
    {
        // GaLore std on 8×32 (left side, m < n), r' = 4: Pᵀ·G 2·4·8·32 and P·N 2·8·4·32 = 4,096; the vector and the
        // embedding are plain Adam. Rank 16 is clamped to the shorter side 8: 8,192.
        Assert.Equal(new StepCost(3 * 2752, 4096, 50), Cost("galore", new GaLoreOptions { Rank = 4 }));
        Assert.Equal(8192, Cost("galore", new GaLoreOptions { Rank = 16 }).MatmulFlops);
        // Both sides (full): 4,096 + the 4×4 cores, 2·4²·(8 + 32) = 1,280.
        Assert.Equal(5376, Cost("galore", new GaLoreOptions { Rank = 4, ProjType = "full" }).MatmulFlops);
        Assert.Equal(new StepCost(3 * 2752, 4096, 20), Cost("qgalore", new QGaLoreOptions { Rank = 4, UpdateProjGap = 20 }));
        // SubTrack++: project, add back, and the recovery term's reconstruction: 3 × 2·8·32·4 = 6,144.
        Assert.Equal(new StepCost(3 * 2752, 6144, 50), Cost("subtrackpp", new SubTrackPlusPlusOptions { Rank = 4 }));
        // APOLLO: the random projection only, 2·r·m·n: r = 32 → 16,384; APOLLO-Mini r = 1 → 512.
        Assert.Equal(new StepCost(3 * 2752, 16384, 200), Cost("apollo", new ApolloOptions()));
        Assert.Equal(512, Cost("apollo", new ApolloOptions { Variant = ApolloVariant.Mini }).MatmulFlops);
    }

    [Fact]
    public void Newton_schulz_flops_count_every_product_of_the_iteration()
    {
        // SWAN, s = 8, l = 32, k = 10: Gram 2·8²·32 + whitened product 2·8²·32 = 8,192, and 3k − 3 = 27 products of 8×8: 27·2·512 = 27,648.
        Assert.Equal(new StepCost(3 * 2752, 35840, 0), Cost("swan", new SwanOptions()));
        // Muon, k = 5: per iteration X·Xᵀ 2·8²·32, its square 2·8³, times X 2·8²·32 = 9,216; 46,080.
        Assert.Equal(new StepCost(3 * 2752, 46080, 0), Cost("muon", new MuonOptions()));
    }

    [Fact]
    public void Every_catalog_line_declares_a_step_cost_and_refreshing_at_every_step_sets_the_gap_to_one()
    {
        foreach (var d in OptimizerCatalog.All)
        {
            Assert.True(d.StepCost is not null, $"{d.Kind} declares no step cost");
            var cost = Cost(d.Kind, d.DefaultOptions());
            // A refresh-every-step setting exactly where the step has a refresh gap.
            Assert.Equal(cost.RefreshEvery > 0, d.RefreshEachStep is not null);
            if (d.RefreshEachStep is { } each)
            {
                var refreshed = each(d.DefaultOptions());
                Assert.Empty(refreshed.Validate());
                Assert.Equal(1, Cost(d.Kind, refreshed).RefreshEvery);
            }
            // Only the matrix methods declare matmul work.
            Assert.Equal(d.Traits.HasFlag(OptimizerTraits.ProjectsMatrices) || d.Kind is "swan" or "muon", cost.MatmulFlops > 0);
        }
    }

    [Fact]
    public void The_sweep_covers_every_catalog_line_its_variants_and_each_implementation_it_has()
    {
        var cases = StepBenchCase.Expand();
        var variants = OptimizerCatalog.All.Sum(d => d.Variants.Count);
        Assert.Equal(OptimizerCatalog.All.Count + variants, cases.Select(c => c.Optimizer).Distinct().Count());
        Assert.Equal(OptimizerCatalog.All.Select(d => d.Kind).Order(StringComparer.Ordinal),
            cases.Select(c => c.Descriptor.Kind).Distinct().Order(StringComparer.Ordinal));
        Assert.Contains("apollo-mini", cases.Select(c => c.Optimizer));
        Assert.Equal(ApolloVariant.Mini, ((ApolloOptions)cases.Single(c => c.Optimizer == "apollo-mini").Options).Variant);
        Assert.All(cases, c => Assert.Empty(c.Options.Validate()));
        string[] Impls(string kind) => cases.Where(c => c.Optimizer == kind).Select(c => c.Implementation).ToArray();
        Assert.Equal([ImplementationChoice.TensorOps, ImplementationChoice.CudaFused], Impls("adamw"));
        Assert.Equal([ImplementationChoice.TensorOps, StepImplementation.Batched, ImplementationChoice.CudaFused], Impls("galore"));
        Assert.Equal([ImplementationChoice.TensorOps, StepImplementation.Batched, ImplementationChoice.CudaFused], Impls("swan"));
        Assert.Equal([StepBenchCase.Default], Impls("lion"));
        Assert.All(cases.Where(c => c.Implementation != StepBenchCase.Default),
            c => Assert.Equal(c.Implementation, c.Options.GetType().GetProperty("Implementation")!.GetValue(c.Options)));
        // The low-rank optimizers take a set's rank (a quarter of its hidden width); APOLLO-Mini keeps its own rank 1.
        Assert.Equal([128, 192, 512, 512], ParameterSets.All.Select(s => s.Rank).ToArray());
        Assert.Equal(128, ((GaLoreOptions)cases.First(c => c.Optimizer == "galore").OptionsFor(ParameterSets.Llama60M)).Rank);
        Assert.Equal(512, ((ApolloOptions)cases.Single(c => c.Optimizer == "apollo").OptionsFor(ParameterSets.Llama1B)).Rank);
        var mini = (ApolloOptions)cases.Single(c => c.Optimizer == "apollo-mini").OptionsFor(ParameterSets.Llama1B);
        Assert.Equal((ApolloVariant.Mini, (int?)null), (mini.Variant, mini.Rank));
        Assert.Equal(ImplementationChoice.CudaFused, ((GaLoreOptions)cases.Last(c => c.Optimizer == "galore").OptionsFor(ParameterSets.Llama1B)).Implementation);
        // A filter keeps the named optimizers (in catalog order) and implementations; single-implementation ones always run.
        var some = StepBenchCase.Expand(["galore", "lion", "apollo-mini"], [ImplementationChoice.CudaFused]);
        Assert.Equal(["lion default", "galore cuda-fused", "apollo-mini default"], some.Select(c => $"{c.Optimizer} {c.Implementation}").ToArray());
    }
}
