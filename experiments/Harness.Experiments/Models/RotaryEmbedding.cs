using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>
/// Rotary position embeddings in the HF "rotate_half" layout: channel i is paired with channel
/// i + headDim/2 (not with its neighbour), so weights converted from HF checkpoints line up.
/// </summary>
public static class RotaryEmbedding
{
    /// <summary>cos and sin tables of shape [seqLen, headDim] (each frequency repeated for both halves).</summary>
    /// <remarks>With <paramref name="scaling"/> the inverse frequencies are rescaled first (Llama-3.1).</remarks>
    public static (Tensor Cos, Tensor Sin) Tables(int seqLen, int headDim, double theta, Device device, RopeScaling? scaling = null)
    {
        using var scope = NewDisposeScope();
        var exponents = arange(0, headDim, 2, ScalarType.Float64) / headDim;
        var invFreq = pow(theta, exponents).reciprocal();
        if (scaling is not null)
            invFreq = tensor(invFreq.data<double>().ToArray().Select(scaling.Scale).ToArray(), ScalarType.Float64);
        var positions = arange(seqLen, ScalarType.Float64);
        var freqs = outer(positions, invFreq);
        var angles = cat([freqs, freqs], -1);
        // Angles in float64, then cast: position * frequency loses digits in float32 for long sequences.
        var cos = angles.cos().to(ScalarType.Float32, device);
        var sin = angles.sin().to(ScalarType.Float32, device);
        return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope());
    }

    /// <summary>Rotates x [..., seq, headDim] by the tables for its positions.</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        var half = x.shape[^1] / 2;
        var first = x.narrow(-1, 0, half);
        var second = x.narrow(-1, half, half);
        var rotated = cat([second.neg(), first], -1);
        var result = x * cos.to_type(x.dtype) + rotated * sin.to_type(x.dtype);
        return result.MoveToOuterDisposeScope();
    }
}
