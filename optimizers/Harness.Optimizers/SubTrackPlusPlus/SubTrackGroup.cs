using Harness.Optimizers.LowRank;
using static TorchSharp.torch;

namespace Harness.Optimizers.SubTrackPlusPlus;

/// <summary>
/// The Matrix parameters of one (shape, dtype) under SubTrack++'s batched step: stacked storage for their bases S
/// (and S₀), moments and limiter norms, of which each parameter's state holds views (so state dicts, state bytes and
/// loading by <c>copy_</c> are the per-parameter ones), and the step of the whole group.
/// </summary>
/// <remarks>
/// One step of a chunk of B members, the per-matrix algebra of <see cref="SubTrackPlusPlus"/> on B×… tensors:
/// the gradients are stacked once (B×m×n, the only m×n-sized buffer); step 0 is one batched SVD
/// (<see cref="GrassmannProjector.InitialiseStack"/>), a tracking step one batched move
/// (<see cref="GrassmannProjector.TrackStack"/>); the projection is one bmm, the moments one pass over the stacked
/// buffers, φ, ‖Λ‖ and the limiter B-vectors on the device. Λ is built in the gradient stack itself: G ⊙ φ in place,
/// then per matrix an addmm of −S·(φ ⊙ G̃) and, after the limiter's one division, of α·S·N into its row (TorchSharp
/// 0.107 has no in-place <c>baddbmm_</c>, and the out-of-place one would add a second B×m×n buffer), then per matrix
/// the reference's <c>p −= step·update</c> and decoupled decay. No value is read back to the host.
/// </remarks>
internal sealed class SubTrackGroup : IDisposable
{
    private readonly Tensor _m, _v, _limiter, _basis;
    private readonly Tensor? _initialBasis;

    /// <param name="members">The names of the group's parameters, in parameter order.</param>
    /// <param name="like">One member (shape m×n, dtype, device).</param>
    public SubTrackGroup(string[] members, Tensor like, SubTrackPlusPlusOptions o)
    {
        Members = members;
        var (m, n) = (like.shape[0], like.shape[1]);
        var side = Math.Min(m, n);
        var rank = Math.Min(o.Rank, side);
        long count = members.Length;
        long[] projected = m >= n ? [count, m, rank] : [count, rank, n];
        _m = zeros(projected, like.dtype, like.device).DetachFromDisposeScope();
        _v = zeros(projected, like.dtype, like.device).DetachFromDisposeScope();
        _limiter = zeros([count], like.dtype, like.device).DetachFromDisposeScope();
        _basis = zeros([count, side, rank], like.dtype, like.device).DetachFromDisposeScope();
        if (o.Semantics == "code") _initialBasis = zeros([count, side, rank], like.dtype, like.device).DetachFromDisposeScope();
    }

    public string[] Members { get; }

    /// <summary>The state of member <paramref name="i"/>: its projector and moments over views of the stacked storage.</summary>
    public LowRankAdamState State(int i, NamedParameter p, SubTrackPlusPlusOptions o, string limiterKey) =>
        new(new GrassmannProjector(p.Value.shape, p.Value.dtype, p.Value.device, o.Rank, o.UpdateInterval, o.Scale, o.StepSize,
                o.Semantics == "code", _basis[i], _initialBasis?[i]),
            _m[i], _v[i], (limiterKey, _limiter[i]));

    /// <summary>
    /// One step of the whole group (every member, in <see cref="Members"/> order, at the same step count, not yet advanced),
    /// in chunks of as many matrices as keep the stacked gradients (B·m·n·4 bytes) within <paramref name="stackBytes"/>.
    /// </summary>
    public void Step(IReadOnlyList<(Tensor Param, Tensor Grad, LowRankAdamState State)> items, SubTrackPlusPlusOptions o, double lr, long stackBytes)
    {
        foreach (var x in items) x.State.Step++;
        var (m, n) = (items[0].Param.shape[0], items[0].Param.shape[1]);
        var chunk = (int)Math.Clamp(stackBytes / (sizeof(float) * m * n), 1, items.Count);
        for (var start = 0; start < items.Count; start += chunk)
            StepChunk(items, start, Math.Min(start + chunk, items.Count), o, lr);
    }

    private void StepChunk(IReadOnlyList<(Tensor Param, Tensor Grad, LowRankAdamState State)> items, int start, int end, SubTrackPlusPlusOptions o, double lr)
    {
        using var scope = NewDisposeScope();
        var projector = Projector(items, start);
        var code = o.Semantics == "code";
        var (beta1, beta2) = (o.Betas[0], o.Betas[1]);
        var step = items[start].State.Step;
        var (basis, initial) = (_basis[start..end], _initialBasis?[start..end]);
        var (moment1, moment2, previousNorm) = (_m[start..end], _v[start..end], _limiter[start..end]);
        var grads = stack(Enumerable.Range(start, end - start).Select(i => items[i].Grad));

        if (step == 1) projector.InitialiseStack(basis, initial, grads);
        Tensor? previous = null;
        if (projector.TracksAt(step - 1))
        {
            if (!code) previous = basis.clone();
            projector.TrackStack(basis, grads);
        }
        var basisT = basis.transpose(1, 2);
        var low = projector.Transposed ? grads.bmm(basis) : basisT.bmm(grads);
        var (m1, m2) = projector.Transposed ? (moment1.transpose(1, 2), moment2.transpose(1, 2)) : (moment1, moment2);
        if (previous is not null) SubTrackPlusPlus.Transport(m1, m2, basisT.bmm(previous), 1);
        var direction = LowRankAdam.Direction(moment1, moment2, low, beta1, beta2, o.Eps);
        if (code && step % o.UpdateInterval == 0) SubTrackPlusPlus.Transport(m1, m2, basisT.bmm(initial!), 1 - beta2);

        // Recovery: φ per column (per row of an m×r' projection), Λ = G ⊙ φ − a·S·(φ ⊙ G̃) in the gradient stack.
        var dim = low.shape[1] < low.shape[2] ? 1 : 2;
        var phi = direction.norm(dim).div_(low.norm(dim).add_(1e-8)).unsqueeze(dim);
        var scaledLow = low.mul(phi);
        var lambda = grads.mul_(phi);
        for (var i = 0; i < end - start; i++) Projector(items, start + i).AddReconstruct(lambda[i], scaledLow[i], code ? -projector.Scale : -1);
        var norm = linalg.vector_norm(lambda, dims: [1, 2]);
        if (step == 1)
        {
            previousNorm.copy_(norm);
        }
        else
        {
            var limiter = SubTrackPlusPlus.Limiter(norm, previousNorm, o.NormGrowthLimit);
            previousNorm.copy_(norm.div_(limiter));
            lambda.div_(limiter.unsqueeze(1).unsqueeze(2));
        }

        // Λ + α·S·N in Λ's rows, then each parameter's update and decay in the reference order.
        var stepSize = LowRankAdam.StepSize(lr, step, beta1, beta2);
        for (var i = 0; i < end - start; i++)
        {
            var update = Projector(items, start + i).AddReconstruct(lambda[i], direction[i], projector.Scale);
            LowRankAdam.Apply(items[start + i].Param, update, stepSize, lr, o.WeightDecay);
        }
    }

    // A member's projector: its basis is row i of the stacked bases.
    private static GrassmannProjector Projector(IReadOnlyList<(Tensor Param, Tensor Grad, LowRankAdamState State)> items, int i) =>
        (GrassmannProjector)items[i].State.Projector!;

    public void Dispose()
    {
        _m.Dispose();
        _v.Dispose();
        _limiter.Dispose();
        _basis.Dispose();
        _initialBasis?.Dispose();
    }
}
