namespace Harness.Optimizers;

/// <summary>
/// The <c>matmul_precision:</c> option (<see cref="IMatmulPrecisionOption"/>): in what precision float32 matrix products of
/// a step run on CUDA. Unset = <see cref="Highest"/>, the reference.
/// </summary>
public enum MatmulPrecision
{
    /// <summary>Full float32 products (the reference; torch's default).</summary>
    Highest,
    /// <summary>
    /// TensorFloat-32 tensor cores for float32 matmul/bmm/addmm on Ampere and newer GPUs (10-bit mantissa inputs, float32
    /// accumulation), through torch's <c>allow_tf32</c> switch for the step only (<see cref="MatmulPrecisionScope"/>).
    /// No effect on CPU, where products stay float32, nor on SVD/QR (cuSOLVER).
    /// </summary>
    Tf32,
}
