using TorchSharp;

namespace Harness.Optimizers;

/// <summary>
/// Turns on TF32 float32 matrix products for the span of one optimizer step and restores the previous setting when disposed.
/// </summary>
/// <remarks>
/// torch's switch (<c>torch.backends.cuda.matmul.allow_tf32</c>) is process-global: while the scope is open every float32
/// product on CUDA in the process uses TF32, including other threads' (the runner steps on one thread, so only the step's
/// own products are affected). The scope restores the value it found, <c>true</c> or <c>false</c>; a caller that had set
/// torch's <c>float32_matmul_precision</c> to <c>medium</c> gets <c>high</c> back (torch maps the boolean onto that
/// setting). On CPU the switch changes nothing.
/// </remarks>
public sealed class MatmulPrecisionScope : IDisposable
{
    private readonly bool _previous;
    private bool _disposed;

    private MatmulPrecisionScope()
    {
        _previous = torch.backends.cuda.matmul.allow_tf32;
        torch.backends.cuda.matmul.allow_tf32 = true;
    }

    /// <summary>A scope for <paramref name="precision"/>, or null (nothing to restore) when it is unset or <c>highest</c>.</summary>
    public static MatmulPrecisionScope? Enter(MatmulPrecision? precision) =>
        precision == MatmulPrecision.Tf32 ? new MatmulPrecisionScope() : null;

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        torch.backends.cuda.matmul.allow_tf32 = _previous;
    }
}
