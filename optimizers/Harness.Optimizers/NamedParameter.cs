using TorchSharp.Modules;

namespace Harness.Optimizers;

/// <summary>A trainable parameter with its stable name (used in state dicts and traces) and its role.</summary>
public sealed record NamedParameter(string Name, Parameter Value, ParamRole Role)
{
    /// <summary>
    /// Set by the model: optimizers that store low-precision state keep this parameter's state in 32 bits (bitsandbytes'
    /// <c>GlobalOptimManager</c> override <c>optim_bits: 32</c>, which its <c>StableEmbedding</c> registers for its table).
    /// </summary>
    public bool FullPrecisionState { get; init; }
}
