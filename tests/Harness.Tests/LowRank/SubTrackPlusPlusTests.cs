using Harness.Core.Traces;
using Harness.Optimizers;
using Harness.Optimizers.LowRank;
using Harness.Optimizers.SubTrackPlusPlus;
using Harness.Tests.Golden;
using Xunit.Abstractions;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Harness.Tests.LowRank;

public sealed class SubTrackPlusPlusTests(ITestOutputHelper output)
{
    private static readonly OptimizerDescriptor Descriptor = OptimizerCatalog.Find("subtrackpp")!;

    [Fact]
    public void Code_semantics_match_the_reference_subtrackpp_trace()
    {
        var report = new TraceChecker().Check(GoldenPaths.CaseAManifest, "subtrackpp");
        output.WriteLine(report.ToTable());
        Assert.Equal(1e-3, report.Tolerance);
        Assert.Equal(21 * 6, report.Errors.Count);
        Assert.True(report.Passed, report.ToTable());
        Assert.InRange(report.Worst!.Error, 0, 1e-4);
    }

    [Fact]
    public void The_trace_binds_code_semantics_unless_the_manifest_names_them()
    {
        var bound = (SubTrackPlusPlusOptions)HyperparameterBinder.Bind(Descriptor, new Dictionary<string, System.Text.Json.JsonElement>(), out var problems);
        Assert.Empty(problems);
        Assert.Equal("code", bound.Semantics);
        Assert.Equal("paper", ((SubTrackPlusPlusOptions)Descriptor.DefaultOptions()).Semantics);
        var explicitPaper = (SubTrackPlusPlusOptions)HyperparameterBinder.Bind(Descriptor, new Dictionary<string, System.Text.Json.JsonElement>
        {
            ["semantics"] = System.Text.Json.JsonSerializer.SerializeToElement("paper"),
        }, out problems);
        Assert.Empty(problems);
        Assert.Equal("paper", explicitPaper.Semantics);
    }

    [Theory]
    [InlineData(40, 24)]   // tall: the released code does not track these; the paper semantics must
    [InlineData(24, 40)]   // wide
    public void Paper_semantics_keep_the_basis_orthonormal_after_every_update_and_move_it(long m, long n)
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(21);
        var projector = new GrassmannProjector([m, n], ScalarType.Float32, CPU, 6, 1, 0.25, 0.5, codeSemantics: false);
        var start = zeros(1);
        double moved = 0;
        for (var t = 0; t < 40; t++)
        {
            using var stepScope = NewDisposeScope();
            projector.Project(randn([m, n], generator: gen), t);
            var s = projector.Basis;
            var error = (s.t().matmul(s) - eye(6)).abs().max().item<float>();
            Assert.True(error < 1e-5, $"step {t}: ‖SᵀS − I‖ = {error:e2}");
            if (t == 0) start = s.clone().DetachFromDisposeScope();
            else moved = Math.Max(moved, (s.matmul(s.t()) - start.matmul(start.t())).norm().item<float>());
        }
        output.WriteLine($"{m}x{n}: largest subspace move {moved:e3}");
        Assert.True(moved > 0.1, $"the subspace barely moved ({moved:e3})");
        start.Dispose();
    }

    [Fact]
    public void Code_semantics_leave_a_tall_basis_where_the_svd_put_it()
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(22);
        var projector = new GrassmannProjector([40, 24], ScalarType.Float32, CPU, 6, 1, 0.25, 0.5, codeSemantics: true);
        projector.Project(randn([40, 24], generator: gen), 0);
        var start = projector.Basis.clone();
        for (var t = 1; t < 10; t++) projector.Project(randn([40, 24], generator: gen), t);
        Assert.True((projector.Basis - start).abs().max().item<float>() < 1e-4);
        Assert.True(projector.InitialBasis!.equal(start).all().item<bool>());
    }

    [Theory]
    [InlineData(2, 3)]   // wide: moments are r×n, C acts on rows
    [InlineData(3, 2)]   // tall: moments are m×r, C acts on their columns
    public void Transport_matches_a_hand_checked_rotation(long m, long n)
    {
        using var scope = NewDisposeScope();
        var projector = new GrassmannProjector([m, n], ScalarType.Float32, CPU, 2, 1, 1, 1, codeSemantics: false);
        var state = new LowRankAdamState(projector, zeros(m, n));
        // Left form (2×3): every column of M is (1, 2) and of V is (5, 8); C is a rotation by (0.6, 0.8).
        projector.LeftForm(state.M).copy_(tensor(new float[] { 1, 2 }).reshape(2, 1).expand(2, 3));
        projector.LeftForm(state.V).copy_(tensor(new float[] { 5, 8 }).reshape(2, 1).expand(2, 3));
        var c = tensor(new float[] { 0.6f, -0.8f, 0.8f, 0.6f }).reshape(2, 2);

        SubTrackPlusPlus.Transport(state, projector, c, 1);

        // C·M = (0.6−1.6, 0.8+1.2) = (−1, 2); V − M² = (4, 4); C²·(4, 4) = (4, 4); + (C·M)² = (5, 8).
        AssertColumns(projector.LeftForm(state.M), [-1, 2]);
        AssertColumns(projector.LeftForm(state.V), [5, 8]);

        // The released code's variant scales V by (1 − β2); identity C leaves M alone.
        SubTrackPlusPlus.Transport(state, projector, eye(2), 1e-3);
        AssertColumns(projector.LeftForm(state.M), [-1, 2]);
        AssertColumns(projector.LeftForm(state.V), [5e-3f, 8e-3f]);
        state.Dispose();
    }

    [Fact]
    public void A_permutation_transport_permutes_and_keeps_v_non_negative()
    {
        using var scope = NewDisposeScope();
        var projector = new GrassmannProjector([3, 7], ScalarType.Float32, CPU, 3, 1, 1, 1, codeSemantics: false);
        var state = new LowRankAdamState(projector, zeros(3, 7));
        var gen = new Generator(23);
        state.M.copy_(randn([3, 7], generator: gen));
        state.V.copy_(state.M.square() + rand([3, 7], generator: gen));
        var (m0, v0) = (state.M.clone(), state.V.clone());
        var p = tensor(new float[] { 0, 0, 1, 1, 0, 0, 0, 1, 0 }).reshape(3, 3);

        SubTrackPlusPlus.Transport(state, projector, p, 1);

        Assert.True(state.M.allclose(p.matmul(m0), 0, 1e-6));
        Assert.True(state.V.allclose(p.matmul(v0), 1e-6, 1e-6));
        Assert.True(state.V.min().item<float>() >= 0);
        state.Dispose();
    }

    [Theory]
    [InlineData("paper", 4 * (2 * (4 * 1153 + 3 * 2433) + 2 * (2 * 128 * 48 + 5 * 48)))]
    [InlineData("code", 4 * (2 * (4 * 1153 + 3 * 2433) + 2 * (2 * 128 * 48 + 5 * 48) + 14 * 48 * 8))]
    public void State_bytes_on_the_tiny_llama_equal_the_formula(string semantics, long expected)
    {
        // Per matrix with r = 8: basis 48×8, moments 2·8·max(m,n), the limiter's scalar (48×48: 1153;
        // 128×48 and 48×128: 2433); code semantics also keep S₀ (48×8). Unprojected: 2×numel.
        using var scope = NewDisposeScope();
        var ps = LowRankTestSupport.TinyLlama(24);
        var options = new SubTrackPlusPlusOptions { Rank = 8, Semantics = semantics };
        using var optimizer = new SubTrackPlusPlus(ps, options);
        LowRankTestSupport.Feed(optimizer, ps, ps.Select(p => randn_like(p.Value)).ToList(), 1e-3);

        Assert.Equal(expected, optimizer.StateBytes);
        Assert.Equal(expected, Descriptor.ExpectedStateBytes(ps, options));
    }

    [Theory]
    [InlineData("paper")]
    [InlineData("code")]
    public void A_state_dict_saved_mid_run_continues_bit_identically(string semantics)
    {
        // Interval 3, saved after 4 steps: the restored run must track at steps 6 and 9, transport
        // (code: at t = 6, 9) and limit the recovery norm from the saved ℓ, as the uninterrupted one does.
        var options = new SubTrackPlusPlusOptions { Rank = 3, UpdateInterval = 3, StepSize = 0.05, Semantics = semantics, WeightDecay = 0.1 };
        Assert.Equal(0, LowRankTestSupport.RoundTripDifference(Descriptor, options, saveAt: 4, total: 10));
    }

    [Fact]
    public void Recovery_vanishes_at_full_rank_so_paper_subtrack_is_rotated_adam()
    {
        // With r = min(m, n) the subspace is everything: Λ = 0 and the basis never moves, so the update is
        // exactly α·S·N with the shared Adam; compare with GaLore's full-rank projection of the same basis.
        using var scope = NewDisposeScope();
        var gen = new Generator(25);
        var w = new NamedParameter("w", new Parameter(randn([6, 10], generator: gen), requires_grad: true), ParamRole.Matrix);
        var before = w.Value.detach().clone();
        using var optimizer = new SubTrackPlusPlus([w], new SubTrackPlusPlusOptions { Rank = 6, UpdateInterval = 1, Scale = 1 });
        var g = randn([6, 10], generator: gen);
        w.Value.grad = g;
        optimizer.Step(1e-2);
        // First step of Adam: N = G̃·0.1/(|G̃|·√0.001 + ε)-ish; the update is S·N with S orthogonal, step size
        // lr·√(1−β2)/(1−β1); recompute it from the state.
        var s = optimizer.StateDict()["w/basis"];
        var low = s.t().matmul(g);
        var n = (low * 0.1) / ((low.square() * 1e-3).sqrt() + 1e-6);
        var expected = before - s.matmul(n) * (1e-2 * Math.Sqrt(1e-3) / 0.1);
        Assert.True((w.Value - expected).abs().max().item<float>() < 1e-6);
    }

    [Fact]
    public void Bad_options_name_their_keys()
    {
        var problems = new SubTrackPlusPlusOptions { Rank = -1, UpdateInterval = 0, StepSize = 0, NormGrowthLimit = 0.5, Semantics = "both" }.Validate().ToList();
        Assert.Equal(["rank", "update_interval", "step_size", "norm_growth_limit", "semantics"], problems.Select(p => p.Key));
        Assert.Contains("both", problems[4].Message);
        Assert.Empty(new SubTrackPlusPlusOptions().Validate());
    }

    private static void AssertColumns(Tensor leftForm, float[] column)
    {
        var expected = tensor(column).reshape(column.Length, 1).expand(leftForm.shape);
        Assert.True(leftForm.allclose(expected, 1e-6, 1e-6), $"got {string.Join(",", leftForm.data<float>().ToArray())}");
    }
}
