using static TorchSharp.torch;

namespace Harness.Optimizers.Quantization;

/// <summary>
/// Q-GaLore's weight write-back, tile by tile: for each run of whole groups, <c>W' = apply(W, U)</c> on the tile,
/// then its codes (scales, zero points from the tile's groups, rounding to nearest or stochastic with
/// <see cref="CounterUniform"/> draws addressed by element index), written into a <see cref="QuantizedWeight"/> or, as
/// grid values, back into a dense weight. Groups never straddle a tile, so the codes equal those of the whole-matrix
/// <see cref="GroupQuantizer"/> with the same draws; transients are a few tile-sized tensors. A group whose W' equals
/// its W exactly keeps its codes (or values): the whole-matrix path's "an exactly zero update changes nothing", per group.
/// No value is read back to the host.
/// </summary>
public static class TiledRequantizer
{
    /// <summary>Elements per tile by default (4 MiB of float32; rounded down to whole groups, at least one).</summary>
    public const long DefaultTileElements = 1L << 20;

    /// <summary>
    /// Updates <paramref name="stored"/> (codes, scales, zeros) or, when it is null, <paramref name="dense"/> (its grid
    /// values, in its dtype) by <paramref name="apply"/>(W tile, U tile), which changes the W tile in place. W is taken in
    /// <paramref name="dense"/>'s dtype (the dequantized stored weight cast to it), U is <paramref name="update"/>.
    /// </summary>
    public static void Update(Tensor dense, QuantizedWeight? stored, Tensor update, Action<Tensor, Tensor> apply, QuantizedWeightFormat format,
        ulong? noiseKey, long tileElements = DefaultTileElements)
    {
        ArgumentNullException.ThrowIfNull(dense);
        ArgumentNullException.ThrowIfNull(update);
        ArgumentNullException.ThrowIfNull(apply);
        ArgumentNullException.ThrowIfNull(format);
        GroupQuantizer.Check(format.GroupSize, format.Bits);
        var g = (long)format.GroupSize;
        var numel = dense.numel();
        var groups = GroupQuantizer.GroupCount(numel, format.GroupSize);
        var perTile = Math.Max(1, tileElements / g);
        var flatUpdate = update.reshape(-1);
        var flatDense = stored is null ? dense.view(-1) : null;
        for (var first = 0L; first < groups; first += perTile)
        {
            using var scope = NewDisposeScope();
            var count = Math.Min(perTile, groups - first);
            var (start, length) = (first * g, Math.Min(count * g, numel - first * g));
            var w = stored is null
                ? flatDense!.narrow(0, start, length)
                : GroupQuantizer.Dequantize(stored.Codes.view(-1).narrow(0, start, length), stored.Scales.narrow(0, first, count),
                    stored.Zeros.narrow(0, first, count), format.GroupSize, [length]).to(dense.dtype);
            var updated = w.clone();
            apply(updated, flatUpdate.narrow(0, start, length));
            var x = GroupQuantizer.Grouped(updated.to(ScalarType.Float32), format.GroupSize);
            var (s, z) = GroupQuantizer.ScalesAndZeros(x, format.Bits);
            var u = noiseKey is { } key ? CounterUniform.Draw(key, start, count * g, dense.device).view(count, g) : null;
            var q = GroupQuantizer.ShiftedCodes(x, s, z, format.Bits, u);
            // Per group: any W' ≠ W (ne_ into w, which is not needed past this, then a max: float passes, no bool tile).
            var changed = GroupQuantizer.Grouped(w.ne_(updated), format.GroupSize).amax([1], keepdim: true).gt(0);
            if (stored is null)
            {
                // Grid values where the group changed; x there is W' = W otherwise.
                w.copy_(q.sub_(z).mul_(s).where(changed, x).flatten().narrow(0, 0, length));
                continue;
            }
            var codes = stored.Codes.view(-1).narrow(0, start, length);
            codes.copy_(q.where(changed, GroupQuantizer.Grouped(codes, format.GroupSize)).flatten().narrow(0, 0, length));
            var (scales, zeros) = (stored.Scales.narrow(0, first, count), stored.Zeros.narrow(0, first, count));
            scales.copy_(s.flatten().where(changed.flatten(), scales));
            zeros.copy_(z.flatten().where(changed.flatten(), zeros));
        }
    }
}
