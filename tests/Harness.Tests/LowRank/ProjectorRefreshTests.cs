using Harness.Core.Traces;
using Harness.Optimizers;
using Harness.Optimizers.GaLore;
using Harness.Optimizers.LowRank;
using Harness.Tests.Golden;
using Xunit.Abstractions;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace Harness.Tests.LowRank;

/// <summary>
/// GaLore's projector refresh: one batched SVD per shape group against one SVD per matrix, and the off-by-default
/// warm-started subspace iteration against the SVD (on synthetic spectra and on the golden tiny LLaMA's gradients).
/// </summary>
public sealed class ProjectorRefreshTests(ITestOutputHelper output)
{
    private static Tensor Basis(SvdProjector p) => p.Tensors.Single().Tensor;

    private static List<SvdProjector> Projectors(int count, long m, long n, string projType, ProjectorRefresh refresh = ProjectorRefresh.Svd,
        Func<int, Func<long, ulong>?>? flips = null) =>
        Enumerable.Range(0, count).Select(i => new SvdProjector([m, n], ScalarType.Float32, CPU, 5, 4, 0.25, projType, flips?.Invoke(i), refresh)).ToList();

    [Theory]
    [InlineData("std", 24, 16, false)]
    [InlineData("std", 16, 24, true)]
    [InlineData("reverse_std", 24, 16, false)]
    [InlineData("left", 16, 24, true)]
    public void A_batched_refresh_gives_the_per_matrix_bases_with_their_sign_replays(string projType, long m, long n, bool chunked)
    {
        using var scope = NewDisposeScope();
        // Projector 1 replays other signs for pairs 1 and 3 at step 4, as the golden check's sign search does.
        Func<int, Func<long, ulong>?> flips = i => i == 1 ? step => step == 4 ? 0b1010UL : 0 : null;
        var single = Projectors(3, m, n, projType, flips: flips);
        var batched = Projectors(3, m, n, projType, flips: flips);
        var gen = new Generator(3);
        Tensor grads = null!;
        foreach (var step in new long[] { 0, 4 })
        {
            grads = randn([3, m, n], generator: gen);
            for (var i = 0; i < 3; i++) single[i].RefreshIfDue(grads[i], step);
            // chunked: a budget for the factors of two matrices, so the three go as a batch of 2 and a batch of 1.
            SvdProjector.RefreshStackIfDue(batched, grads, step, chunked ? 2 * sizeof(float) * Math.Min(m, n) * (m + n) : 64L << 20);
            for (var i = 0; i < 3; i++)
            {
                // torch runs LAPACK's gesdd per matrix of a batch on CPU: the same routine on the same data.
                var diff = (Basis(single[i]) - Basis(batched[i])).abs().max().item<float>();
                Assert.True(diff <= 1e-6f, $"{projType} step {step} matrix {i}: {diff:e2}");
            }
        }
        // The replay took effect in the batched path: projector 1's pairs 1 and 3 are opposite to a plain SVD's, the rest equal.
        var plain = Projectors(1, m, n, projType)[0];
        plain.RefreshIfDue(grads[1], 4);
        var (name, flipped) = batched[1].Tensors.Single();
        var dim = name == "proj_left" ? 0 : 1;
        var signs = flipped.mul(Basis(plain)).sum(dim).data<float>().Select(x => Math.Round(x)).ToArray();
        Assert.Equal([1.0, -1, 1, -1, 1], signs);
    }

    [Fact]
    public void A_stacked_refresh_is_skipped_between_refreshes()
    {
        using var scope = NewDisposeScope();
        var batched = Projectors(2, 24, 16, "std");
        SvdProjector.RefreshStackIfDue(batched, randn([2, 24, 16], generator: new Generator(1)), 0);
        var before = Basis(batched[0]).clone();
        SvdProjector.RefreshStackIfDue(batched, randn([2, 24, 16], generator: new Generator(2)), 3);
        Assert.True(Basis(batched[0]).eq(before).all().item<bool>());
    }

    /// <summary>G = U·diag(σ)·Vᵀ with a gap after σ_r (σᵢ = 0.8^i, then ×0.5) plus a small drift of its top subspace.</summary>
    private static (Tensor Previous, Tensor Next) DriftingGradients(long m, long n, int r, double drift, ulong seed)
    {
        var gen = new Generator(seed);
        var k = Math.Min(m, n);
        var (u, _) = linalg.qr(randn([m, k], generator: gen));
        var (v, _) = linalg.qr(randn([n, k], generator: gen));
        var sigma = tensor(Enumerable.Range(0, (int)k).Select(i => (float)(Math.Pow(0.8, i) * (i >= r ? 0.5 : 1))).ToArray());
        var g0 = u.matmul(diag(sigma)).matmul(v.t());
        var g1 = g0 + randn([m, n], generator: gen) * (drift * sigma[0].item<float>() / Math.Sqrt(m * n));
        return (g0, g1);
    }

    private static double MinPrincipalCosine(Tensor a, Tensor b) => linalg.svdvals(a.t().matmul(b)).min().item<float>();

    [Theory]
    [InlineData("std", 48, 32)]
    [InlineData("std", 32, 48)]
    [InlineData("left", 48, 32)]
    [InlineData("full", 48, 32)]
    public void Subspace_iteration_from_the_previous_basis_finds_the_svd_subspace_and_keeps_the_column_signs(string projType, long m, long n)
    {
        using var scope = NewDisposeScope();
        var (g0, g1) = DriftingGradients(m, n, 5, 0.05, 11);
        var iterated = new SvdProjector([m, n], ScalarType.Float32, CPU, 5, 4, 0.25, projType, refresh: ProjectorRefresh.SubspaceIteration, iterations: 2);
        var svd = new SvdProjector([m, n], ScalarType.Float32, CPU, 5, 4, 0.25, projType);
        iterated.RefreshIfDue(g0, 0);      // the first refresh is an SVD in both
        svd.RefreshIfDue(g0, 0);
        var first = iterated.Tensors.Select(t => t.Tensor.clone()).ToList();
        Assert.Equal(first.Select(t => t.data<float>().ToArray()), svd.Tensors.Select(t => t.Tensor.data<float>().ToArray()));
        Assert.True(svd.TakesSvdAt(4) && !iterated.TakesSvdAt(4) && iterated.TakesSvdAt(0));

        iterated.RefreshIfDue(g1, 4);
        svd.RefreshIfDue(g1, 4);
        foreach (var ((name, q), (_, reference), previous) in iterated.Tensors.Zip(svd.Tensors, first))
        {
            var (qc, rc, pc) = name == "proj_left" ? (q, reference, previous) : (q.t(), reference.t(), previous.t());
            Assert.True((qc.t().matmul(qc) - eye(5)).abs().max().item<float>() < 1e-5, $"{name} orthonormal");
            var cosine = MinPrincipalCosine(qc, rc);
            Assert.True(cosine > 0.9999, $"{projType} {name}: smallest principal cosine to the SVD's subspace {cosine}");
            // Column i stays on the side of the previous column i (a fresh SVD's signs are arbitrary per pair).
            Assert.True(qc.mul(pc).sum(0L).min().item<float>() > 0.9, $"{name} column signs follow the previous basis");
        }
    }

    [Fact]
    public void Subspace_iteration_refreshes_equal_in_the_batched_and_per_matrix_paths()
    {
        using var scope = NewDisposeScope();
        var single = Projectors(3, 16, 24, "std", ProjectorRefresh.SubspaceIteration);
        var batched = Projectors(3, 16, 24, "std", ProjectorRefresh.SubspaceIteration);
        var gen = new Generator(4);
        foreach (var step in new long[] { 0, 4, 8 })
        {
            var grads = randn([3, 16, 24], generator: gen);
            for (var i = 0; i < 3; i++) single[i].RefreshIfDue(grads[i], step);
            SvdProjector.RefreshStackIfDue(batched, grads, step);
            for (var i = 0; i < 3; i++)
                Assert.True((Basis(single[i]) - Basis(batched[i])).abs().max().item<float>() <= 1e-5f, $"step {step} matrix {i}");
        }
    }

    /// <summary>
    /// The accuracy note's numbers on real gradients: the golden tiny LLaMA's 14 projected matrices (rank 8, gap 4, as the
    /// golden GaLore trace), refreshed at steps 4 and 8 by q iterations from the previous refresh's basis, against a fresh SVD:
    /// captured energy ‖Pᵀ·G‖²/‖P_svdᵀ·G‖² (1 = as good as the SVD) and subspace overlap ‖P_svdᵀ·P‖²_F/r' (mean squared
    /// principal cosine). The stale basis (no refresh) is the baseline the iterations improve on.
    /// </summary>
    [Theory]
    [InlineData(1, 0.92, 0.97, 0.55)]
    [InlineData(2, 0.975, 0.99, 0.7)]
    [InlineData(4, 0.985, 0.995, 0.8)]
    public void Subspace_iteration_on_the_golden_gradients_captures_nearly_the_svd_energy(int iterations, double minEnergy, double meanEnergy, double meanOverlap)
    {
        using var scope = NewDisposeScope();
        var manifest = GoldenManifest.Load(GoldenPaths.CaseAManifest);
        var g = SafeTensorsFile.Read(Path.Combine(GoldenPaths.Directory, "caseA.gradients.safetensors"));
        var (energy, overlap, staleEnergy, staleOverlap) = (new List<double>(), new List<double>(), new List<double>(), new List<double>());
        foreach (var name in manifest.LowRankTargets)
        {
            var shape = g[$"g.0.{name}"].shape;
            var iterated = new SvdProjector(shape, ScalarType.Float32, CPU, 8, 4, 0.25, "std", refresh: ProjectorRefresh.SubspaceIteration, iterations: iterations);
            var svd = new SvdProjector(shape, ScalarType.Float32, CPU, 8, 4, 0.25, "std");
            // Left form: A, or Bᵀ for the right side of a tall matrix.
            Tensor LeftForm(SvdProjector p) => shape[0] >= shape[1] ? Basis(p).t() : Basis(p);
            foreach (var step in new[] { 0, 4, 8 })
            {
                var grad = g[$"g.{step}.{name}"];
                var stale = LeftForm(iterated).clone();
                var low = iterated.Project(grad, step);
                var best = svd.Project(grad, step).square().sum().item<float>();
                if (step == 0) continue;
                var gl = shape[0] >= shape[1] ? grad.t() : grad;
                energy.Add(low.square().sum().item<float>() / best);
                staleEnergy.Add(stale.t().matmul(gl).square().sum().item<float>() / best);
                overlap.Add(LeftForm(svd).t().matmul(LeftForm(iterated)).square().sum().item<float>() / 8);
                staleOverlap.Add(LeftForm(svd).t().matmul(stale).square().sum().item<float>() / 8);
            }
        }
        output.WriteLine($"q={iterations}: energy ratio min {energy.Min():F4} mean {energy.Average():F4} (stale basis: min {staleEnergy.Min():F4} " +
                         $"mean {staleEnergy.Average():F4}); overlap min {overlap.Min():F4} mean {overlap.Average():F4} (stale: mean {staleOverlap.Average():F4}) " +
                         $"over {energy.Count} refreshes");
        Assert.InRange(energy.Min(), minEnergy, 1 + 1e-5);
        Assert.True(energy.Average() >= meanEnergy, $"mean energy ratio {energy.Average():F4}");
        Assert.True(overlap.Average() >= meanOverlap, $"mean overlap {overlap.Average():F4}");
        Assert.True(energy.Average() > staleEnergy.Average() && overlap.Average() > staleOverlap.Average(), "the iterations improve on the stale basis");
    }

    [Fact]
    public void Galore_subspace_iteration_batched_equals_tensor_ops_and_its_only_svd_step_is_the_first()
    {
        using var scope = NewDisposeScope();
        var shapes = new long[][] { [16, 24], [16, 24], [24, 16] };
        List<NamedParameter> Make() => shapes.Select((s, i) => new NamedParameter($"p{i}",
            new Parameter(randn(s, generator: new Generator((ulong)i)) * 0.1, requires_grad: true), ParamRole.Matrix)).ToList();
        var (ra, rb) = (Make(), Make());
        var options = new GaLoreOptions { Rank = 4, UpdateProjGap = 3, Projector = ProjectorRefresh.SubspaceIteration, ProjectorIterations = 1 };
        using var a = new GaLore(ra, options with { Implementation = "tensor-ops" });
        using var b = new GaLore(rb, options);
        var gen = new Generator(9);
        for (var t = 0; t < 9; t++) LowRankTestSupport.StepBoth(a, ra, b, rb, gen, 1e-2);
        foreach (var (p, q) in ra.Zip(rb))
        {
            var tolerance = 8 * Math.Pow(2, -23) * p.Value.abs().max().item<float>();
            Assert.True((p.Value - q.Value).abs().max().item<float>() <= tolerance, p.Name);
        }
        Assert.Equal([0L], a.SvdSteps("p0", 0, 9));
        using var reference = new GaLore(Make(), new GaLoreOptions { Rank = 4, UpdateProjGap = 3 });
        Assert.Equal([0L, 3, 6], reference.SvdSteps("p0", 0, 9));
    }

    [Fact]
    public void Projector_iterations_need_subspace_iteration_and_a_positive_count()
    {
        Assert.Empty(new GaLoreOptions { Projector = ProjectorRefresh.SubspaceIteration, ProjectorIterations = 3 }.Validate());
        Assert.Contains(new OptionProblem("projector_iterations", "applies only with projector: subspace_iteration"),
            new GaLoreOptions { ProjectorIterations = 3 }.Validate());
        Assert.Contains(new OptionProblem("projector_iterations", "must be >= 1 (got 0)"),
            new GaLoreOptions { Projector = ProjectorRefresh.SubspaceIteration, ProjectorIterations = 0 }.Validate());
    }
}
