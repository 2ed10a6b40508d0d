namespace Harness.Optimizers.Kernels;

/// <summary>The update in the epilogue of FORGE's tensor-core tile kernel (<c>hk_forge_tc</c>'s <c>kind</c>).</summary>
public enum ForgeTileKind
{
    /// <summary>AdamW with m and v in the parameter's dtype (fp32 state with fp32 master weights under <c>dtype: mixed</c>).</summary>
    AdamW = 0,

    /// <summary>AdamW with bfloat16 m and v stored by stochastic rounding (FORGE's bf16 state; a bfloat16 parameter too).</summary>
    AdamWBf16Stochastic = 1,

    /// <summary>8-bit Adam: blockwise uint8 codes of m and v with an fp32 absmax per block (two GEMM passes, exact absmax).</summary>
    Adam8bit = 2,
}
