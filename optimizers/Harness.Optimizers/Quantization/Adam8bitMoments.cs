using static TorchSharp.torch;

namespace Harness.Optimizers.Quantization;

/// <summary>
/// bitsandbytes 0.43.1's 2-state Adam moment update (<c>kOptimizerStatic8bit2StateBlockwise</c> for
/// tensors of at least <c>min_8bit_size</c> elements, <c>kOptimizer32bit2State</c> below), shared by
/// <c>Adam8bit</c> and Q-GaLore. It updates m and v in place (uint8 codes + per-block absmax, or fp32) and
/// returns the kernel's float32 parameter increment <c>step_size·m/(√v + c2·ε)</c>; the caller adds it to
/// its parameter (or, in Q-GaLore, maps it back from the projected space) and applies weight decay.
/// </summary>
public static class Adam8bitMoments
{
    /// <summary>bnb's <c>min_8bit_size</c> default: smaller tensors keep fp32 moments.</summary>
    public const long DefaultMin8BitSize = 4096;

    /// <summary>Zero moments for a tensor of <paramref name="shape"/>: codes + absmax when <paramref name="quantize"/>, else fp32.</summary>
    public static (Tensor First, Tensor Second, Tensor? Absmax1, Tensor? Absmax2) Create(long[] shape, bool quantize, int blockSize, Device device)
    {
        if (!quantize) return (zeros(shape, ScalarType.Float32, device), zeros(shape, ScalarType.Float32, device), null, null);
        var blocks = BlockwiseQuantization.BlockCount(shape.Aggregate(1L, (a, b) => a * b), blockSize);
        return (zeros(shape, ScalarType.Byte, device), zeros(shape, ScalarType.Byte, device),
            zeros(blocks, ScalarType.Float32, device), zeros(blocks, ScalarType.Float32, device));
    }

    /// <summary>Exact bytes of one tensor's moments: 2 B/element + 2 × 4 B per block, or 8 B/element (fp32 m, v).</summary>
    public static long StateBytes(long numel, bool quantize, int blockSize) =>
        quantize ? 2 * numel + 2 * 4 * BlockwiseQuantization.BlockCount(numel, blockSize) : 2 * 4 * numel;

    /// <summary>
    /// One moment update at step <paramref name="step"/> (from 1) with scalars formed in float32 as the kernel
    /// does. Quantized: non-finite gradient elements reset their m, v to 0 and get a zero increment;
    /// <c>Finite</c> is their mask (null on the fp32 path, which has no such reset). Returns the flat float32
    /// increment (a new tensor, in the caller's scope).
    /// </summary>
    public static (Tensor Delta, Tensor? Finite) Step(
        Tensor first, Tensor second, Tensor? absmax1, Tensor? absmax2, Tensor grad, Adam8bitCodebooks maps,
        int blockSize, float beta1, float beta2, float eps, float lr, long step)
    {
        var correction1 = 1f - MathF.Pow(beta1, step);
        var correction2 = MathF.Sqrt(1f - MathF.Pow(beta2, step));
        var stepSize = -lr * correction2 / correction1;

        var g = grad.reshape(-1).to(ScalarType.Float32);
        Tensor m, v;
        Tensor? finite = null;
        if (absmax1 is not null && absmax2 is not null)
        {
            finite = g.isfinite();
            var notFinite = finite.logical_not();
            g = g.masked_fill(notFinite, 0f);
            var oldAbsmax1 = absmax1.clone();
            m = BlockwiseQuantization.Dequantize(first, absmax1, maps.Signed, blockSize).reshape(-1);
            v = BlockwiseQuantization.Dequantize(second, absmax2, maps.Unsigned, blockSize).reshape(-1);
            v = v.mul(beta2).add_(g.mul(1f - beta2).mul_(g)).masked_fill_(notFinite, 0f);
            m = m.mul(beta1).add_(g.mul(1f - beta1)).masked_fill_(notFinite, 0f);

            var newAbsmax1 = BlockwiseQuantization.BlockAbsmax(m, blockSize);
            var newAbsmax2 = BlockwiseQuantization.BlockAbsmax(v, blockSize);
            if (m.numel() % blockSize != 0)
            {
                // Lanes past n load code 128 and g = 0; their β1·code1[128]·absmax_old joins the max.
                var last = newAbsmax1.numel() - 1;
                var padded = oldAbsmax1.narrow(0, last, 1).mul(maps.PaddedLaneCode).mul_(beta1).abs_();
                newAbsmax1.narrow(0, last, 1).copy_(newAbsmax1.narrow(0, last, 1).maximum(padded));
            }

            var codes1 = BlockwiseQuantization.QuantizeWithAbsmax(m, newAbsmax1, maps.Signed, blockSize, keepSign: true, maps.SignedSearch);
            var codes2 = BlockwiseQuantization.QuantizeWithAbsmax(v, newAbsmax2, maps.Unsigned, blockSize, search: maps.UnsignedSearch);
            first.copy_(codes1.reshape(first.shape));
            second.copy_(codes2.reshape(second.shape));
            absmax1.copy_(newAbsmax1);
            absmax2.copy_(newAbsmax2);
        }
        else
        {
            m = first.reshape(-1);
            v = second.reshape(-1);
            v.mul_(beta2).add_(g.mul(1f - beta2).mul_(g));
            m.mul_(beta1).add_(g.mul(1f - beta1));
        }

        // Uses the unquantized m, v (as the kernel does): step_size·m/(√v + c2·ε).
        return (m.div(v.sqrt().add_(correction2 * eps)).mul_(stepSize), finite);
    }
}
