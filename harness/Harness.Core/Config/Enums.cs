namespace Harness.Core.Config;

/// <summary>How a training step is executed (<c>step_mode:</c>).</summary>
public enum StepMode
{
    /// <summary>forward, backward, then the optimizer step over all gradients.</summary>
    Standard,
    /// <summary>FORGE: each linear weight is updated as soon as its gradient slab exists (issue 5).</summary>
    FusedBackward,
    /// <summary>
    /// GaLore's layer-wise update: each linear weight is stepped by the optimizer's per-parameter rule as soon as
    /// its whole gradient exists, and the gradient freed (issue 19; <c>Running.PerLayerStepDriver</c>).
    /// </summary>
    PerLayer,
}

/// <summary>How <c>step_mode: fused_backward</c> applies <c>training.grad_clip</c> (<c>training.fused_clip:</c>).</summary>
public enum FusedClipMode
{
    /// <summary>No clipping: a grad_clip above 0 is refused (FORGE's own choice: one backward cannot clip a global norm).</summary>
    None,
    /// <summary>
    /// LOMO-style two passes per step: forward + backward measuring only the global gradient norm (slab by slab,
    /// no update), then forward + backward again updating with c·G, c = min(1, τ/(‖G‖ + 1e-6)). Exact; costs a
    /// second forward and backward.
    /// </summary>
    TwoPass,
}

/// <summary>
/// Which kernel steps FORGE's fused linear weights on the last micro-batch of a step (<c>training.forge_kernel:</c>,
/// or an optimizer entry's <c>forge_kernel:</c>).
/// </summary>
public enum ForgeKernelMode
{
    /// <summary>The tile-fused kernel where the optimizer has one and its kernels are attached (AdamW on CUDA), slabs elsewhere.</summary>
    Auto,
    /// <summary>
    /// The tile-fused kernel (weight gradient formed and consumed inside one kernel), or the run fails saying why
    /// not: a speed comparison must not silently measure slabs.
    /// </summary>
    Tile,
    /// <summary>One GEMM and one optimizer step per row slab of the weight gradient (<c>training.fused_slab_rows</c>).</summary>
    Slabs,
    /// <summary>
    /// The fp32-FMA tile kernel (<c>hk_forge_adamw</c>, operands in the weight's dtype), never the tensor-core one: the exact
    /// reference, or the run fails.
    /// </summary>
    TileFma,
}

/// <summary>
/// FORGE's optimizer state for the fused linear weights (<c>training.forge_state:</c>, or an optimizer entry's
/// <c>forge_state:</c>; FORGE's names, arXiv 2606.22932 §2.3): which state the tile kernel's epilogue reads and writes.
/// </summary>
public enum ForgeStateKind
{
    /// <summary>AdamW with fp32 m and v (fp32 master weights under <c>dtype: mixed</c>); <c>kind: adamw</c>, dtype float32 or mixed.</summary>
    Fp32,
    /// <summary>AdamW with bf16 m and v, stored by stochastic rounding in the tensor-core kernel; <c>kind: adamw</c>, dtype mixed or bfloat16.</summary>
    Bf16,
    /// <summary>8-bit Adam's blockwise int8 state (bitsandbytes' rule, <c>block_size</c> 2048 by default); <c>kind: adam8bit</c>.</summary>
    Int8,
}

/// <summary>What happens to the gradients after each optimizer step (<c>training.grad_buffers:</c>).</summary>
public enum GradBuffersMode
{
    /// <summary>Dropped (<c>zero_grad(set_to_none=True)</c>, PyTorch's default): the next backward allocates them again.</summary>
    Free,
    /// <summary>
    /// Kept and zeroed in place (<c>zero_grad(set_to_none=False)</c>, as DDP's and Megatron's gradient buffers): the
    /// gradient memory is held through the whole step, so the training-step peak includes it. Same numbers.
    /// </summary>
    Keep,
}

/// <summary>Training precision (<c>training.dtype:</c>).</summary>
public enum TrainingDType
{
    /// <summary>fp32 parameters, activations and optimizer state.</summary>
    Float32,
    /// <summary>pure bf16 parameters and activations, no master weights (as the GaLore paper's runs).</summary>
    Bfloat16,
    /// <summary>bf16 compute with fp32 master weights.</summary>
    Mixed,
}

/// <summary>Learning-rate schedule shape (<c>schedule.kind:</c>).</summary>
public enum ScheduleKind { Constant, Linear, Cosine }
