using Harness.Optimizers.Kernels;
using static TorchSharp.torch;

namespace Harness.Optimizers.Quantization;

/// <summary>
/// What the fused 8-bit Adam kernel needs beside the code books: the float32 decision boundaries
/// <c>(c[k] + c[k+1])·0.5</c> of <see cref="BlockwiseQuantization.NearestCode"/> for each map, contiguous, the index of
/// each map's zero code, and the step's scalars formed as the kernel (and <see cref="Adam8bitMoments.Step"/>) forms them.
/// Shared by <c>Adam8bit</c> and <c>QGaLore</c>; owns the boundary tensors.
/// </summary>
public sealed class Adam8bitKernelTables : IDisposable
{
    private readonly Adam8bitCodebooks _maps;

    public Adam8bitKernelTables(Adam8bitCodebooks maps)
    {
        ArgumentNullException.ThrowIfNull(maps);
        _maps = maps;
        using var noGrad = no_grad();
        Mid1 = Midpoints(maps.Signed);
        Mid2 = Midpoints(maps.Unsigned);
        Zero1 = (int)BlockwiseQuantization.ZeroIndex(maps.Signed);
        Zero2 = (int)BlockwiseQuantization.ZeroIndex(maps.Unsigned);
    }

    public Tensor Mid1 { get; }
    public Tensor Mid2 { get; }
    public int Zero1 { get; }
    public int Zero2 { get; }

    private static Tensor Midpoints(Tensor code)
    {
        using var scope = NewDisposeScope();
        var c = code.to(ScalarType.Float32);
        return ((c.narrow(0, 0, DynamicMap.Size - 1) + c.narrow(0, 1, DynamicMap.Size - 1)) * 0.5f).contiguous().MoveToOuterDisposeScope().DetachFromDisposeScope();
    }

    /// <summary>The scalars of step <paramref name="step"/> (float32, powf): step size −lr·c2/c1, decay 1 − lr·wd applied after when <paramref name="applyDecay"/>.</summary>
    public Adam8bitScalars Scalars(float beta1, float beta2, float eps, float lr, float weightDecay, long step, int blockSize, bool applyDecay)
    {
        var correction1 = 1f - MathF.Pow(beta1, step);
        var correction2 = MathF.Sqrt(1f - MathF.Pow(beta2, step));
        return new Adam8bitScalars(beta1, beta2, 1f - beta1, 1f - beta2, correction2 * eps, -lr * correction2 / correction1,
            1f - lr * weightDecay, _maps.PaddedLaneCode, applyDecay, blockSize, Zero1, Zero2);
    }

    /// <summary>One multi-tensor launch over tensors of one parameter dtype and one step.</summary>
    public void Launch(FusedKernels kernels, IReadOnlyList<(Tensor P, Tensor G, Tensor C1, Tensor C2, Tensor? A1, Tensor? A2)> items, in Adam8bitScalars scalars)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        kernels.Adam8bit(items, _maps.Signed, _maps.Unsigned, Mid1, Mid2, scalars);
    }

    public void Dispose()
    {
        Mid1.Dispose();
        Mid2.Dispose();
    }
}
