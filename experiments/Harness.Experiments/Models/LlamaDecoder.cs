using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>The <c>model.</c> part of HF's LlamaForCausalLM: embedding, layers and final norm, returning hidden states.</summary>
internal sealed class LlamaDecoder : nn.Module<Tensor, Tensor>, IComputeDType
{
    private readonly nn.Module<Tensor, Tensor> embed_tokens;
    private readonly ModuleList<LlamaDecoderLayer> layers;
    private readonly RmsNorm norm;
    private readonly LlamaConfig config;
    private readonly CheckpointedBlock.Returned[] checkpoints;

    public LlamaDecoder(LlamaConfig c, Generator init) : base("model")
    {
        config = c;
        embed_tokens = c.StableEmbedding
            ? new StableEmbedding(nameof(embed_tokens), c.VocabSize, c.Hidden, init)
            : new TokenEmbedding(c.VocabSize, c.Hidden, c.InitStd, init);
        layers = new ModuleList<LlamaDecoderLayer>();
        for (var i = 0; i < c.Layers; i++) layers.Add(new LlamaDecoderLayer(i, c, init));
        checkpoints = Enumerable.Range(0, c.Layers).Select(_ => new CheckpointedBlock.Returned()).ToArray();
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
        var (cos, sin) = RotaryEmbedding.Tables(length, config.HeadDim, config.RopeTheta, device, config.RopeScaling);
        rotary = (length, device, cos.DetachFromDisposeScope(), sin.DetachFromDisposeScope());
        return (cos, sin);
    }

    /// <summary>Recompute each layer's forward in the backward instead of keeping its activations (see <see cref="CheckpointedBlock"/>).</summary>
    public bool CheckpointActivations { get; set; }

    /// <summary>The tied LM head: hidden states times the embedding matrix.</summary>
    /// <remarks>Reads the table as the embedding module's <c>weight</c> parameter, whichever embedding module it is.</remarks>
    public Tensor TiedHead(Tensor hidden)
    {
        var table = embed_tokens.get_parameter("weight")
            ?? throw new InvalidOperationException("the embedding has no 'weight' table to tie the head to");
        return MixedPrecision.Linear(hidden, table, null, ComputeDType);
    }

    /// <summary>The tied head's matmul dtype under <c>training.dtype: mixed</c> (see <see cref="Projection.ComputeDType"/>).</summary>
    public ScalarType? ComputeDType { get; set; }

    public override Tensor forward(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        var (cos, sin) = Rotary((int)tokens.shape[1], tokens.device);
        var x = embed_tokens.forward(tokens);
        // Checkpointed only where a graph is being built (training); evaluation keeps nothing anyway.
        var checkpoint = CheckpointActivations && is_grad_enabled();
        for (var i = 0; i < layers.Count; i++)
        {
            var layer = layers[i];
            x = checkpoint && x.requires_grad
                ? CheckpointedBlock.apply(x, (Func<Tensor, Tensor>)(input => layer.forward(input, cos, sin)), checkpoints[i])
                : layer.forward(x, cos, sin);
        }
        return norm.forward(x).MoveToOuterDisposeScope();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            rotary?.Cos.Dispose();
            rotary?.Sin.Dispose();
            rotary = null;
            foreach (var c in checkpoints) c.Dispose();
        }
        base.Dispose(disposing);
    }
}
