using static TorchSharp.torch;

namespace Harness.Optimizers;

/// <summary>
/// Optimizers that can step a linear weight straight from its layer's input and output gradient: the weight
/// gradient <c>dyᵀ·x</c> is formed tile by tile inside one fused kernel and consumed there by the element-wise
/// rule (FORGE's tile kernel, Kukreja et al., arXiv 2606.22932), so neither the whole gradient nor a slab of it
/// is ever a tensor. Same result as <see cref="ISlabStep.StepSlabs"/> on the slabs of <c>dyᵀ·x</c> (the GEMM's
/// summation order aside).
/// </summary>
public interface ITileFusedLinearStep
{
    /// <summary>Null when <see cref="TryStepLinear"/> can take <paramref name="weight"/> at all (kernels attached, a dtype they have, on their device); otherwise why not.</summary>
    string? TileUnavailableReason(NamedParameter weight);

    /// <summary>
    /// One step of <paramref name="weight"/> ([out, in]) whose gradient is <c>dyᵀ·x</c> (x [tokens, in], dy [tokens, out],
    /// contiguous, the weight's dtype or, for the tensor-core kernel, bfloat16), plus <paramref name="pending"/> (fp32 [out, in], earlier micro-batches) when
    /// given, times the fp32 scalar tensor <paramref name="clipScale"/> when given, each rounded as the slab path rounds
    /// it. Advances the weight's step count once, as a <see cref="ISlabStep.StepSlabs"/> call does. Returns false, having
    /// changed nothing, when it cannot take these tensors; the caller then steps slabs. <paramref name="tensorCores"/>: bf16
    /// operands may take the tensor-core kernel (<c>hk_forge_tc</c>); false keeps the fp32-FMA tile (the exact reference),
    /// whose operands are of the weight's dtype.
    /// </summary>
    bool TryStepLinear(NamedParameter weight, Tensor x, Tensor dy, Tensor? pending, Tensor? clipScale, double learningRate, bool tensorCores = true);
}
