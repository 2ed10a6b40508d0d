using Harness.Optimizers.Quantization;
using static TorchSharp.torch;

namespace Harness.Optimizers.LowRank;

/// <summary>
/// The state of one parameter under a low-rank Adam whose moments may be bitsandbytes-style 8-bit
/// (Q-GaLore): the projector (null when not projected) and m, v in the projected space (or the full shape)
/// as uint8 codes + per-block absmax (<see cref="Adam8bitMoments"/>), or as plain moments.
/// </summary>
public sealed class LowRankMomentsState : ParameterState
{
    /// <param name="projector">The projector, or null for plain (unprojected) Adam.</param>
    /// <param name="like">A tensor with the parameter's dtype and device.</param>
    /// <param name="eightBit">bnb moments: 8-bit when the moment tensor has ≥ <paramref name="min8BitSize"/> elements, else fp32.
    /// When false, the moments take <paramref name="like"/>'s dtype (<see cref="LowRankAdamState"/>'s layout).</param>
    public LowRankMomentsState(IProjector? projector, Tensor like, bool eightBit, long min8BitSize, int blockSize)
    {
        Projector = projector;
        var shape = projector?.ProjectedShape ?? like.shape;
        if (eightBit)
            (First, Second, Absmax1, Absmax2) = Adam8bitMoments.Create(shape, shape.Aggregate(1L, (a, b) => a * b) >= min8BitSize, blockSize, like.device);
        else
            (First, Second) = (zeros(shape, like.dtype, like.device), zeros(shape, like.dtype, like.device));
    }

    public IProjector? Projector { get; }

    /// <summary>m: uint8 codes into the signed map, or float values.</summary>
    public Tensor First { get; }

    /// <summary>v: uint8 codes into the unsigned map, or float values.</summary>
    public Tensor Second { get; }

    public Tensor? Absmax1 { get; }
    public Tensor? Absmax2 { get; }
    public bool IsQuantized => Absmax1 is not null;

    public override IEnumerable<(string Name, Tensor Tensor)> Tensors =>
        (Projector?.Tensors ?? []).Concat(IsQuantized
            ? [("state1", First), ("state2", Second), ("absmax1", Absmax1!), ("absmax2", Absmax2!)]
            : [("exp_avg", First), ("exp_avg_sq", Second)]);
}
