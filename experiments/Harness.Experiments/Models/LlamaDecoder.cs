using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>The <c>model.</c> part of HF's LlamaForCausalLM: embedding, layers and final norm, returning hidden states.</summary>
internal sealed class LlamaDecoder : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> embed_tokens;
    private readonly ModuleList<LlamaDecoderLayer> layers;
    private readonly RmsNorm norm;
    private readonly LlamaConfig config;

    public LlamaDecoder(LlamaConfig c, Generator init) : base("model")
    {
        config = c;
        embed_tokens = c.StableEmbedding
            ? new StableEmbedding(nameof(embed_tokens), c.VocabSize, c.Hidden, init)
            : new TokenEmbedding(c.VocabSize, c.Hidden, c.InitStd, init);
        layers = new ModuleList<LlamaDecoderLayer>();
        for (var i = 0; i < c.Layers; i++) layers.Add(new LlamaDecoderLayer(i, c, init));
        norm = new RmsNorm(nameof(norm), c.Hidden, c.RmsNormEps);
        register_module(nameof(embed_tokens), embed_tokens);
        register_module(nameof(layers), layers);
        register_module(nameof(norm), norm);
    }

    // The rotary tables of the last sequence length and device. They are computed on the CPU (float64 angles) and
    // copied to the device: a copy from pageable memory that waits for the device, so computing them every forward
    // stalled the GPU once per step (measured as part of a 7 % throughput gap to PyTorch on an H100).
    private (int Length, Device Device, Tensor Cos, Tensor Sin)? rotary;

    private (Tensor Cos, Tensor Sin) Rotary(int length, Device device)
    {
        if (rotary is { } r && r.Length == length && r.Device.type == device.type && r.Device.index == device.index) return (r.Cos, r.Sin);
        rotary?.Cos.Dispose();
        rotary?.Sin.Dispose();
        var (cos, sin) = RotaryEmbedding.Tables(length, config.HeadDim, config.RopeTheta, device);
        rotary = (length, device, cos.DetachFromDisposeScope(), sin.DetachFromDisposeScope());
        return (cos, sin);
    }

    public override Tensor forward(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        var (cos, sin) = Rotary((int)tokens.shape[1], tokens.device);
        var x = embed_tokens.forward(tokens);
        foreach (var layer in layers) x = layer.forward(x, cos, sin);
        return norm.forward(x).MoveToOuterDisposeScope();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            rotary?.Cos.Dispose();
            rotary?.Sin.Dispose();
            rotary = null;
        }
        base.Dispose(disposing);
    }
}
