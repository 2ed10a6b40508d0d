using Harness.Optimizers.Kernels;
using Harness.Optimizers.LowRank;

namespace Harness.Optimizers.GaLore;

/// <summary>
/// GaLore: gradient low-rank projection. Zhao et al., "GaLore: Memory-Efficient LLM Training by Gradient
/// Low-Rank Projection", ICML 2024, arXiv 2403.03507. Reference code: jiaweizzhao/GaLore
/// <c>galore_torch/adamw.py</c> and <c>galore_torch/galore_projector.py</c> @2cc66f8, against which the
/// golden <c>galore</c> trace was recorded.
/// </summary>
/// <remarks>
/// For a Matrix-role parameter W (m×n) with gradient G, 0-based step k = t − 1, rank r' = min(r, m, n):
/// <code>
/// if k % T == 0: P ← top-r' singular vectors of G (side per proj_type, see SvdProjector)
/// R = project(G)                                   (r'×n or m×r'; moments keep their values across a refresh)
/// M ← β1·M + (1−β1)·R;  V ← β2·V + (1−β2)·R²
/// W ← W − lr·√(1−β2^t)/(1−β1^t) · α·project_back(M / (√V + ε))
/// W ← W − lr·wd·W                                  (after the update; not scaled by α)
/// </code>
/// Every other parameter gets the same Adam without the projection (the reference's second group).
/// State bytes per Matrix parameter, b = element size: std → (2·r'·max(m,n) + r'·min(m,n))·b;
/// reverse_std → (2·r'·min + r'·max)·b; left → (m·r' + 2·r'·n)·b; right → (r'·n + 2·m·r')·b;
/// full → (m·r' + r'·n + 2·r'²)·b. Other parameters: 2·numel·b. A rank larger than a matrix side is
/// clamped to that side, as the reference's SVD slice does (no error).
/// The moments persist across a refresh, so the result depends on the signs LAPACK gives the singular
/// vectors (arbitrary per pair); <see cref="ISvdSignChoice"/> lets the golden check replay other signs.
/// Batched, a shape group's refresh is one batched SVD (<see cref="SvdProjector.RefreshStackIfDue"/>); with the fused kernels
/// (<c>auto</c> on CUDA, <c>cuda-fused</c>) one <c>hk_adamw</c> launch steps the low-rank moments of every group and the
/// full-rank parameters (equal up to rounding: the kernel's m is a lerp).
/// Off by default and not the reference (optimizers/README.md §7): <c>projector: subspace_iteration</c>, warm-started
/// refreshes without an SVD after the first (on the golden tiny LLaMA's gradients, 2 iterations capture 0.994 of the
/// SVD basis's gradient energy on average, 0.981 at worst; a stale basis 0.80), and <c>matmul_precision: tf32</c>
/// (CUDA only; its GPU accuracy is not measured yet).
/// </remarks>
public sealed class GaLore(IReadOnlyList<NamedParameter> parameters, GaLoreOptions options)
    : PerParameterOptimizer<GaLoreOptions, LowRankAdamState>(parameters, options), ISvdSignChoice, IFusedKernelUser
{
    private FusedKernels? _kernels;

    private readonly Dictionary<(string Parameter, long Step), ulong> _signFlips = [];

    /// <summary>The closed-form state size, independent of the tensors (the catalog's formula).</summary>
    public static long ExpectedStateBytes(IReadOnlyList<NamedParameter> parameters, GaLoreOptions o) =>
        parameters.Sum(p =>
        {
            var b = p.Value.element_size();
            if (p.Role != ParamRole.Matrix || p.Value.dim() != 2) return 2 * p.Value.numel() * b;
            var (m, n) = (p.Value.shape[0], p.Value.shape[1]);
            var r = Math.Min(o.Rank, Math.Min(m, n));
            var (left, right) = SvdProjector.Sides(o.ProjType, m, n);
            var moment = (left ? r : m) * (right ? r : n);
            return ((left ? m * r : 0) + (right ? r * n : 0) + 2 * moment) * b;
        });

    // Batched: the Matrix parameters of one (shape, dtype) share stacked moment buffers (state entries are views).
    private readonly Dictionary<(long M, long N, TorchSharp.torch.ScalarType Dtype), (string[] Members, TorchSharp.torch.Tensor? M, TorchSharp.torch.Tensor? V)> _groups = [];

    private bool Batched => StepImplementation.IsBatched(Options.Implementation);

    public override string Implementation => !Batched ? "tensor-ops" : _kernels is null ? "batched" : "batched; cuda-fused adamw";

    /// <summary>Only <c>auto</c> and <c>cuda-fused</c> take the kernels (for the full-rank parameters).</summary>
    public void AttachKernels(FusedKernels? kernels, string status) =>
        _kernels = StepImplementation.ResolveKernels(Options.Implementation, kernels, status, Parameters, "galore");

    private static (long, long, TorchSharp.torch.ScalarType) GroupKey(NamedParameter p) => (p.Value.shape[0], p.Value.shape[1], p.Value.dtype);

    protected override LowRankAdamState CreateState(NamedParameter p)
    {
        if (p.Role != ParamRole.Matrix) return new(null, p.Value);
        var projector = new SvdProjector(p.Value.shape, p.Value.dtype, p.Value.device, Options.Rank, Options.UpdateProjGap, Options.Scale, Options.ProjType,
            step => _signFlips.GetValueOrDefault((p.Name, step)), Options.Projector ?? ProjectorRefresh.Svd,
            Options.ProjectorIterations ?? SubspaceIteration.DefaultIterations);
        if (!Batched || !projector.OneSided) return new(projector, p.Value);
        var key = GroupKey(p);
        if (!_groups.TryGetValue(key, out var group))
            group = (Parameters.Where(q => q.Role == ParamRole.Matrix && q.Value.dim() == 2 && GroupKey(q) == key).Select(q => q.Name).ToArray(), null, null);
        if (group.M is null)
        {
            long[] shape = [group.Members.Length, .. projector.ProjectedShape];
            group = (group.Members, TorchSharp.torch.zeros(shape, p.Value.dtype, p.Value.device).DetachFromDisposeScope(),
                TorchSharp.torch.zeros(shape, p.Value.dtype, p.Value.device).DetachFromDisposeScope());
            _groups[key] = group;
        }
        var i = Array.IndexOf(group.Members, p.Name);
        return new(projector, group.M[i], group.V![i]);
    }

    protected override void Update(NamedParameter p, TorchSharp.torch.Tensor grad, LowRankAdamState s, double lr)
    {
        using var precision = MatmulPrecisionScope.Enter(Options.MatmulPrecision);
        LowRankAdam.Step(p.Value, grad, s, Options, lr);
    }

    /// <summary>
    /// Batched: every shape group whose members all have gradients at the same step goes through
    /// <see cref="StepGroup"/>; everything else (vectors, embeddings, a partial group) steps one by one.
    /// </summary>
    public override void Step(double learningRate)
    {
        if (!Batched)
        {
            base.Step(learningRate);
            return;
        }
        ThrowIfDisposed();
        using var noGrad = TorchSharp.torch.no_grad();
        var grads = new List<TorchSharp.torch.Tensor>();
        try
        {
            var grouped = new List<(NamedParameter P, TorchSharp.torch.Tensor G, LowRankAdamState S)>();
            var fused = new List<(NamedParameter P, TorchSharp.torch.Tensor G, LowRankAdamState S)>();
            foreach (var p in Parameters)
            {
                var grad = p.Value.grad;
                if (grad is null) continue;
                grads.Add(grad);
                var s = StateFor(p);
                if (s.Projector is SvdProjector { OneSided: true }) grouped.Add((p, grad, s));
                else if (_kernels is { } k && LowRankAdam.FusedAccepts(k, p.Value, grad, s)) fused.Add((p, grad, s));
                else StepParameter(p, grad, learningRate);
            }
            var whole = new List<List<(NamedParameter P, TorchSharp.torch.Tensor G, LowRankAdamState S)>>();
            foreach (var group in grouped.GroupBy(x => GroupKey(x.P)))
            {
                var items = group.ToList();
                var members = _groups[group.Key].Members;
                if (items.Count == members.Length && items.All(x => x.S.Step == items[0].S.Step) && items.Select(x => x.P.Name).SequenceEqual(members))
                    whole.Add(items);
                else
                    foreach (var (p, g, _) in items) StepParameter(p, g, learningRate);
            }
            // The groups the kernels take join the full-rank parameters in one launch; without kernels (fused is then empty)
            // every group takes the tensor ops.
            var kernels = _kernels;
            var onKernels = kernels is null ? [] : whole.Where(items => items.All(x => kernels.Accepts(x.P.Value) && kernels.Accepts(x.G, x.P.Value.dtype))).ToList();
            if (kernels is not null && (fused.Count > 0 || onKernels.Count > 0)) StepAllFused(kernels, fused, onKernels, learningRate);
            foreach (var items in whole.Except(onKernels)) StepGroup(items, _groups[GroupKey(items[0].P)], learningRate);
        }
        finally
        {
            foreach (var g in grads) g.Dispose();
        }
    }

    // One shape group: one batched SVD refresh when due, one bmm projection of the stacked gradients, the Adam moments of
    // the whole group in one pass over the stacked buffers, and per matrix one addmm that adds −step·α·(A·N or N·B) to W
    // (no m×n temporary), then the decoupled decay as in the reference.
    private void StepGroup(IReadOnlyList<(NamedParameter P, TorchSharp.torch.Tensor G, LowRankAdamState S)> items,
        (string[] Members, TorchSharp.torch.Tensor? M, TorchSharp.torch.Tensor? V) buffers, double lr)
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var precision = MatmulPrecisionScope.Enter(Options.MatmulPrecision);
        var (projectors, low, step) = ProjectGroup(items);
        var (beta1, beta2) = (Options.Betas[0], Options.Betas[1]);
        var n = LowRankAdam.Direction(buffers.M!, buffers.V!, low, beta1, beta2, Options.Eps);
        AddProjectedUpdates(items, projectors, n, -LowRankAdam.StepSize(lr, step, beta1, beta2), lr);
    }

    // With the kernels: every group's projection as in StepGroup, then one hk_adamw launch per (dtype, step) for the
    // low-rank moments of every group (on zero placeholders, which come back holding −step·N) and the full-rank parameters
    // together, then per matrix one addmm of α·placeholder into W and the decoupled decay.
    private void StepAllFused(FusedKernels kernels, IReadOnlyList<(NamedParameter P, TorchSharp.torch.Tensor G, LowRankAdamState S)> fullRank,
        IReadOnlyList<List<(NamedParameter P, TorchSharp.torch.Tensor G, LowRankAdamState S)>> groups, double lr)
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var precision = MatmulPrecisionScope.Enter(Options.MatmulPrecision);
        var launch = new List<(TorchSharp.torch.Tensor P, TorchSharp.torch.Tensor G, TorchSharp.torch.Tensor M, TorchSharp.torch.Tensor V, long Step)>();
        foreach (var x in fullRank)
        {
            x.S.Step++;
            launch.Add((x.P.Value, x.G, x.S.M, x.S.V, x.S.Step));
        }
        var placed = new List<(List<(NamedParameter P, TorchSharp.torch.Tensor G, LowRankAdamState S)> Items, List<SvdProjector> Projectors, TorchSharp.torch.Tensor Update)>();
        foreach (var items in groups)
        {
            var (projectors, low, step) = ProjectGroup(items);
            var buffers = _groups[GroupKey(items[0].P)];
            var update = TorchSharp.torch.zeros_like(low);
            launch.Add((update, low.contiguous(), buffers.M!, buffers.V!, step));
            placed.Add((items, projectors, update));
        }
        foreach (var group in launch.GroupBy(x => (x.P.dtype, x.Step)))
            kernels.AdamW(group.Select(x => (x.P, x.G, x.M, x.V)).ToList(), LowRankAdam.FusedScalars(Options, lr, group.Key.Step));
        foreach (var (items, projectors, update) in placed) AddProjectedUpdates(items, projectors, update, 1.0, lr);
        if (Options.WeightDecay > 0)
            foreach (var x in fullRank) x.P.Value.add_(x.P.Value, alpha: -lr * Options.WeightDecay);
    }

    // Advances a group's step, refreshes its bases when due (one batched SVD) and projects the stacked gradients (one bmm).
    private static (List<SvdProjector> Projectors, TorchSharp.torch.Tensor Low, long Step) ProjectGroup(
        IReadOnlyList<(NamedParameter P, TorchSharp.torch.Tensor G, LowRankAdamState S)> items)
    {
        foreach (var x in items) x.S.Step++;
        var step = items[0].S.Step;
        var projectors = items.Select(x => (SvdProjector)x.S.Projector!).ToList();
        var grads = TorchSharp.torch.stack(items.Select(x => x.G));
        SvdProjector.RefreshStackIfDue(projectors, grads, step - 1);
        return (projectors, SvdProjector.ProjectStack(projectors, grads), step);
    }

    // W ← W + alpha·α·project_back(updates[i]) per matrix (one addmm), then the decoupled decay, in the reference order.
    private void AddProjectedUpdates(IReadOnlyList<(NamedParameter P, TorchSharp.torch.Tensor G, LowRankAdamState S)> items,
        IReadOnlyList<SvdProjector> projectors, TorchSharp.torch.Tensor updates, double alpha, double lr)
    {
        for (var i = 0; i < items.Count; i++)
        {
            var param = items[i].P.Value;
            projectors[i].AddProjectBack(param, updates[i], alpha);
            if (Options.WeightDecay > 0) param.add_(param, alpha: -lr * Options.WeightDecay);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            foreach (var (_, m, v) in _groups.Values)
            {
                m?.Dispose();
                v?.Dispose();
            }
        _groups.Clear();
        base.Dispose(disposing);
    }

    public IReadOnlyList<long> SvdSteps(string parameter, long from, long to) =>
        BasisSize(parameter) == 0 ? [] : SvdProjector.SvdSteps(Options.UpdateProjGap, from, to)
            .Where(s => Options.Projector != ProjectorRefresh.SubspaceIteration || s == 0).ToList(); // later refreshes iterate

    public int BasisSize(string parameter) =>
        Parameters.FirstOrDefault(p => p.Name == parameter) is { Role: ParamRole.Matrix } p && p.Value.dim() == 2
            ? (int)Math.Min(Options.Rank, Math.Min(p.Value.shape[0], p.Value.shape[1]))
            : 0;

    public void FlipSingularVectors(string parameter, long step, ulong mask)
    {
        if (BasisSize(parameter) == 0) throw new ArgumentException($"'{parameter}' has no SVD basis", nameof(parameter));
        _signFlips[(parameter, step)] = mask;
    }
}
