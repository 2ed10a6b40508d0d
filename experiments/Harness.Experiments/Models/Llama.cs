using Harness.Optimizers;
using Harness.Optimizers.Quantization;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>
/// A LLaMA-style causal language model: token embedding, pre-norm decoder layers (RMSNorm, RoPE
/// attention (grouped-query with kv_heads), SwiGLU MLP, no biases), final RMSNorm and an LM head (untied by default; tied,
/// it multiplies by the embedding matrix and has no weight of its own). Parameter names follow the
/// HF <c>LlamaForCausalLM</c> layout (<c>model.layers.0.self_attn.q_proj.weight</c>, …, <c>lm_head.weight</c>)
/// so optimizer traces and state dicts read like the reference scripts'.
/// </summary>
public sealed class Llama : nn.Module<Tensor, Tensor>, ICausalLanguageModel
{
    private readonly LlamaDecoder model;
    private readonly Projection? lm_head;

    /// <summary>
    /// Builds the model on the CPU in float32, drawing every weight from <paramref name="init"/> (a CPU
    /// generator), so a seed gives the same weights whatever device the run later moves them to.
    /// </summary>
    public Llama(LlamaConfig config, Generator init) : base(nameof(Llama))
    {
        ArgumentNullException.ThrowIfNull(config);
        config.EnsureValid();
        Config = config;
        model = new LlamaDecoder(config, init);
        register_module(nameof(model), model);
        if (!config.TieEmbeddings)
        {
            lm_head = new Projection(nameof(lm_head), config.Hidden, config.VocabSize, ParamRole.OutputHead, config.InitStd, init);
            register_module(nameof(lm_head), lm_head);
        }
    }

    public LlamaConfig Config { get; }

    /// <summary>
    /// <c>training.activation_checkpointing</c>: each decoder layer keeps only its input and recomputes its forward in
    /// the backward (the embedding, final norm and head are not checkpointed). Gradients are unchanged.
    /// </summary>
    public bool CheckpointActivations { get => model.CheckpointActivations; set => model.CheckpointActivations = value; }

    public int VocabSize => Config.VocabSize;

    /// <summary>RoPE has no learned positions, so no length limit.</summary>
    public int? MaxSequenceLength => null;

    public long ParameterCount => Config.ParameterCount;

    public nn.Module Module => this;

    public Tensor Logits(Tensor tokens) => forward(tokens);

    /// <summary>[batch, seq] int64 token ids -> [batch, seq, vocab] logits.</summary>
    public override Tensor forward(Tensor tokens)
    {
        using var hidden = model.forward(tokens);
        return lm_head is null ? model.TiedHead(hidden) : lm_head.forward(hidden);
    }

    /// <summary>Full names of every projection weight (bias-free, each with one consumer; a tied head is not a projection).</summary>
    public IReadOnlyList<string> ProjectionWeights() =>
        named_modules().Where(m => m.module is Projection).Select(m => $"{m.name}.weight").ToList();

    /// <summary>
    /// <c>training.dtype: mixed</c> as PyTorch's autocast runs this model: every projection (and a tied head) multiplies
    /// in <paramref name="compute"/> (bf16) from fp32 weights, so q/k/v, RoPE, attention and the SwiGLU product run in
    /// bf16, while the embedding, the residual stream (fp32 + bf16 promotes to fp32), RMSNorm and the loss (the
    /// workload casts logits to fp32) stay fp32. Null restores the weights' dtype.
    /// </summary>
    public void ComputeIn(ScalarType? compute) => MixedPrecision.ComputeIn(this, compute);

    /// <summary>Routes every projection's training forward through <paramref name="route"/> (null restores <c>F.linear</c>).</summary>
    public void RouteProjections(ILinearRoute? route)
    {
        foreach (var (name, module) in named_modules())
            if (module is Projection projection) projection.RouteThrough(route, $"{name}.weight");
    }

    /// <summary>
    /// Stores every matrix projection's weight (attention and MLP; not the head) quantized, as Q-GaLore's
    /// <c>prepare_model_for_int8_training</c> replaces the q/k/v/o/gate/up/down linears; returns how many. Collect the
    /// named parameters again afterwards: the converted ones carry their storage.
    /// </summary>
    public int StoreMatricesQuantized(QuantizedWeightFormat format)
    {
        var count = 0;
        foreach (var (_, module) in named_modules())
            if (module is Projection { Role: ParamRole.Matrix, Quantized: null } projection)
            {
                projection.StoreQuantized(format);
                count++;
            }
        return count;
    }

    /// <summary>
    /// Every parameter in <c>named_parameters()</c> order with the role of the module that owns it
    /// (projections are matrices, the embedding and head have their own roles, norms are vectors); a stable
    /// embedding's table asks for 32-bit optimizer state.
    /// Call it again after moving the model: moving replaces the parameter objects.
    /// </summary>
    public IReadOnlyList<NamedParameter> NamedParameters() => ParameterRoles.Collect(this);
}
