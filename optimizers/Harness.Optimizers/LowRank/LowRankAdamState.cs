using static TorchSharp.torch;

namespace Harness.Optimizers.LowRank;

/// <summary>
/// The state of one parameter under a low-rank Adam: the projector (null for parameters that are not
/// projected), the moments in the projected space (or the full shape without a projector) and any
/// extra per-parameter tensors a method needs (SubTrack++'s limiter norm, for instance).
/// </summary>
public sealed class LowRankAdamState : ParameterState
{
    private readonly (string Name, Tensor Tensor)[] _extra;

    /// <param name="projector">The projector, or null for plain (unprojected) Adam.</param>
    /// <param name="like">A tensor with the parameter's dtype and device; moments take its dtype.</param>
    /// <param name="extra">Further persistent tensors, created with their final shapes.</param>
    public LowRankAdamState(IProjector? projector, Tensor like, params (string Name, Tensor Tensor)[] extra)
    {
        Projector = projector;
        var shape = projector?.ProjectedShape ?? like.shape;
        M = zeros(shape, like.dtype, like.device);
        V = zeros(shape, like.dtype, like.device);
        _extra = extra;
    }

    /// <param name="projector">The projector (its projected shape is the moments' shape).</param>
    /// <param name="m">First-moment storage, zero: a view into a shape group's stacked buffer, for instance.</param>
    /// <param name="v">Second-moment storage, zero, shaped as <paramref name="m"/>.</param>
    /// <param name="extra">Further persistent tensors (views into a group's buffers, for instance).</param>
    public LowRankAdamState(IProjector projector, Tensor m, Tensor v, params (string Name, Tensor Tensor)[] extra)
    {
        ArgumentNullException.ThrowIfNull(projector);
        if (!m.shape.SequenceEqual(projector.ProjectedShape) || !v.shape.SequenceEqual(projector.ProjectedShape))
            throw new ArgumentException("moment storage must have the projected shape", nameof(m));
        (Projector, M, V, _extra) = (projector, m, v, extra);
    }

    public IProjector? Projector { get; }

    /// <summary>First moment (<c>exp_avg</c>), in the projected space.</summary>
    public Tensor M { get; }

    /// <summary>Second moment (<c>exp_avg_sq</c>), in the projected space.</summary>
    public Tensor V { get; }

    /// <summary>An extra tensor by name (as passed to the constructor).</summary>
    public Tensor Extra(string name) => _extra.First(e => e.Name == name).Tensor;

    public override IEnumerable<(string Name, Tensor Tensor)> Tensors =>
        (Projector?.Tensors ?? []).Concat([("exp_avg", M), ("exp_avg_sq", V)]).Concat(_extra);
}
