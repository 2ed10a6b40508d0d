using static TorchSharp.torch;

namespace Harness.Optimizers.LowRank;

/// <summary>
/// Maps one Matrix-role parameter's gradient into a low-rank space and a low-rank update back. The
/// optimizer keeps its Adam moments in the projected space (<see cref="ProjectedShape"/>) and calls
/// <see cref="LowRankAdam"/> for the moment update, so a projector never touches moments.
/// </summary>
/// <remarks>
/// How to add a projector (SVD, quantized SVD, Grassmann tracking, ...):
/// <list type="number">
/// <item>Allocate every persistent tensor in the constructor, with its final shape and dtype (zeros are
/// fine: the first <see cref="Project"/> call, at step 0, must fill them). State dicts are loaded by
/// copying into these tensors, so their shapes must never change; keep mutable scalars (an adaptive
/// gap, a queue) in small tensors too.</item>
/// <item>List them in <see cref="Tensors"/> under stable names: state bytes, state dicts and disposal all
/// go through that list (the owning <see cref="LowRankAdamState"/> disposes them).</item>
/// <item><see cref="Project"/> decides from the 0-based step whether to refresh the basis first; it and
/// <see cref="ProjectBack"/> return new tensors that belong to the caller's dispose scope.</item>
/// </list>
/// </remarks>
public interface IProjector
{
    /// <summary>Shape of the projected gradient, which is also the shape of the moments.</summary>
    long[] ProjectedShape { get; }

    /// <summary>
    /// The gradient in the low-rank space. <paramref name="step"/> counts the updates applied before this
    /// one (0 on the first call), as the reference code's <c>iter</c>; the basis is refreshed first when
    /// the schedule says so.
    /// </summary>
    Tensor Project(Tensor grad, long step);

    /// <summary>A low-rank tensor mapped back to the parameter's shape, multiplied by the scale α.</summary>
    Tensor ProjectBack(Tensor lowRank);

    /// <summary>Every persistent tensor of the projector, by a stable name.</summary>
    IEnumerable<(string Name, Tensor Tensor)> Tensors { get; }
}
