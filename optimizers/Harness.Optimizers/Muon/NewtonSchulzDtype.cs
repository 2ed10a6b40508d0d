namespace Harness.Optimizers.Muon;

/// <summary>The dtype Muon's Newton–Schulz iteration runs in (<c>ns_dtype:</c>).</summary>
public enum NewtonSchulzDtype
{
    /// <summary>bfloat16 on CUDA (as the references), float32 elsewhere: CPU bf16 matmuls are emulated (a tiny LLaMA
    /// step ran at 150 instead of about 600 tokens/s on 2 CPU cores with bf16).</summary>
    Auto,
    /// <summary>bfloat16, as both references (<c>muon.py</c>, <c>torch.optim.Muon</c>) run it.</summary>
    Bfloat16,
    /// <summary>float32: slower on GPUs, no bf16 rounding; the exact reference checks use it.</summary>
    Float32,
}
