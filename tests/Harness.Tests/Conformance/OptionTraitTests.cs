using Harness.Core.Config;
using Harness.Core.Planning;
using Harness.Optimizers;
using Harness.Optimizers.LowRank;
using Harness.Tests.Config;
using Harness.Tests.Core;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Harness.Tests.Conformance;

/// <summary>
/// The off-by-default, faster-than-reference options, over the catalog by trait: declared once (trait ⇔ options
/// interface), out of the run id unless set, validated by the config loader, and <c>matmul_precision: tf32</c> scoped
/// to the step (torch's switch restored; on CPU no number changes).
/// </summary>
public sealed class OptionTraitTests
{
    public static TheoryData<OptimizerTraits, Type> OptionInterfaces => new()
    {
        { OptimizerTraits.MatmulPrecisionOption, typeof(IMatmulPrecisionOption) },
        { OptimizerTraits.SubspaceIterationRefresh, typeof(IProjectorRefreshOption) },
    };

    [Theory]
    [MemberData(nameof(OptionInterfaces))]
    public void An_option_trait_is_set_exactly_where_the_options_record_implements_its_interface(OptimizerTraits trait, Type contract)
    {
        var mismatched = OptimizerCatalog.All.Where(d => d.Traits.HasFlag(trait) != contract.IsAssignableFrom(d.OptionsType)).Select(d => d.Kind);
        Assert.Empty(mismatched);
        Assert.Contains(OptimizerCatalog.All, d => d.Traits.HasFlag(trait));
    }

    public static TheoryData<string> Tf32Kinds => new(OptimizerCatalog.All.Where(d => d.Traits.HasFlag(OptimizerTraits.MatmulPrecisionOption)).Select(d => d.Kind));

    private static List<NamedParameter> Parameters(ulong seed)
    {
        var gen = new Generator(seed);
        (long[] Shape, ParamRole Role)[] shapes = [([16, 24], ParamRole.Matrix), ([16, 24], ParamRole.Matrix), ([24, 16], ParamRole.Matrix), ([20, 16], ParamRole.Embedding), ([16], ParamRole.Vector)];
        return shapes.Select((s, i) => new NamedParameter($"p{i}", new Parameter(randn(s.Shape, generator: gen) * 0.1, requires_grad: true), s.Role)).ToList();
    }

    [Theory]
    [MemberData(nameof(Tf32Kinds))]
    public void Tf32_is_scoped_to_the_step_and_changes_no_number_on_cpu(string kind)
    {
        using var scope = NewDisposeScope();
        var d = OptimizerCatalog.Find(kind)!;
        var (pa, pb) = (Parameters(1), Parameters(1));
        using var reference = d.Create(pa, d.DefaultOptions());
        using var tf32 = d.Create(pb, ((IMatmulPrecisionOption)d.DefaultOptions()).WithMatmulPrecision(MatmulPrecision.Tf32));
        var gen = new Generator(2);
        var before = TorchSharp.torch.backends.cuda.matmul.allow_tf32;
        try
        {
            for (var t = 0; t < 4; t++)
            {
                // The switch is restored to what it was, whichever value that is.
                TorchSharp.torch.backends.cuda.matmul.allow_tf32 = t % 2 == 1;
                Harness.Tests.LowRank.LowRankTestSupport.StepBoth(reference, pa, tf32, pb, gen, 1e-2);
                Assert.Equal(t % 2 == 1, TorchSharp.torch.backends.cuda.matmul.allow_tf32);
            }
        }
        finally
        {
            TorchSharp.torch.backends.cuda.matmul.allow_tf32 = before;
        }
        foreach (var (a, b) in pa.Zip(pb)) Assert.True(a.Value.eq(b.Value).all().item<bool>(), $"{kind} {a.Name}: CPU products are float32 either way");
        Assert.True((pa[0].Value - Parameters(1)[0].Value).abs().max().item<float>() > 0, $"{kind} did not move");
    }

    [Fact]
    public void The_options_enter_the_run_id_only_when_set()
    {
        foreach (var d in OptimizerCatalog.All.Where(d => d.Traits.HasFlag(OptimizerTraits.MatmulPrecisionOption) || d.Traits.HasFlag(OptimizerTraits.SubspaceIterationRefresh)))
        {
            var defaults = d.DefaultOptions();
            List<OptimizerOptions> set = [];
            if (defaults is IMatmulPrecisionOption m) set.Add(m.WithMatmulPrecision(MatmulPrecision.Tf32));
            if (defaults is IProjectorRefreshOption p) set.Add(p.WithProjector(ProjectorRefresh.SubspaceIteration, null));
            string Id(OptimizerOptions o) => Assert.Single(Planner.Plan(TestConfigs.Experiment("p", 10, [new OptimizerVariant(d.Kind, d.Kind, o, [], 0)]), "cpu")).RunId;
            var json = Assert.Single(Planner.Plan(TestConfigs.Experiment("p", 10, [new OptimizerVariant(d.Kind, d.Kind, defaults, [], 0)]), "cpu")).Spec.ToJson().ToJsonString();
            Assert.DoesNotContain("matmul_precision", json);
            Assert.DoesNotContain("projector", json);
            Assert.DoesNotContain(Id(defaults), set.Select(Id));
            Assert.Equal(set.Count, set.Select(Id).Distinct().Count());
        }
    }

    [Fact]
    public void An_unknown_value_is_a_config_error_at_its_line()
    {
        ConfigTestKit.Single("""
            name: t
            workload: { kind: llama }
            optimizers:
              - kind: galore
                matmul_precision: fp16
            """, 5, null, "expected one of highest, tf32, got 'fp16'");
        ConfigTestKit.Single("""
            name: t
            workload: { kind: llama }
            optimizers:
              - { kind: swan, matmul_precision: tf32 }
              - kind: galore
                projector: lanczos
            """, 6, null, "expected one of svd, subspace_iteration, got 'lanczos'");
        ConfigTestKit.Single("""
            name: t
            workload: { kind: llama }
            optimizers:
              - kind: galore
                projector_iterations: 3
            """, 5, null, "applies only with projector: subspace_iteration");
    }
}
