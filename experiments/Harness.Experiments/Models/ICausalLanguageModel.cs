using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>What the language-model workload needs of a decoder: logits for token ids, and its parameters with roles.</summary>
public interface ICausalLanguageModel : IDisposable
{
    int VocabSize { get; }

    /// <summary>Longest sequence the model accepts (null: no limit, e.g. RoPE).</summary>
    int? MaxSequenceLength { get; }

    /// <summary>Exact trainable parameter count implied by the config.</summary>
    long ParameterCount { get; }

    /// <summary>[batch, seq] int64 ids -> [batch, seq, vocab] logits.</summary>
    Tensor Logits(Tensor tokens);

    /// <summary><c>training.dtype: mixed</c>: matmuls and attention in <paramref name="compute"/> (bf16) on fp32 weights; null restores the weights' dtype.</summary>
    void ComputeIn(ScalarType? compute);

    /// <summary>Every parameter with its role; call again after a move.</summary>
    IReadOnlyList<NamedParameter> NamedParameters();

    /// <summary>The underlying module (for train/eval mode, dtype and device moves).</summary>
    nn.Module Module { get; }

    /// <summary>Names of the weights whose linear layers can be routed through a fused-backward function.</summary>
    IReadOnlyList<string> ProjectionWeights();

    /// <summary>Routes those layers' training forward through <paramref name="route"/> (null restores the plain path).</summary>
    void RouteProjections(ILinearRoute? route);
}
