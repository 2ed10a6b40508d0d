using Harness.Optimizers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>
/// ViT (Dosovitskiy et al. 2021), tiny: non-overlapping p×p patches flattened and projected to d
/// (<c>patch_embed</c>, role Embedding), a learned class token and position table, pre-LayerNorm
/// bidirectional transformer blocks, a final LayerNorm and a linear head on the class token.
/// </summary>
public sealed class VisionTransformer : nn.Module<Tensor, Tensor>
{
    private readonly Dense patch_embed, head;
    private readonly LearnedTable cls_token, pos_embed;
    private readonly ModuleList<TransformerBlock> blocks;
    private readonly LayerNorm norm;
    private readonly ImageShape shape;
    private readonly int patch, hidden;

    public VisionTransformer(ImageShape shape, int patch, int hidden, int layers, int heads, Generator init) : base(nameof(VisionTransformer))
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (patch < 1 || shape.Height % patch != 0 || shape.Width % patch != 0)
            throw new ArgumentException($"patch {patch} must divide the image size {shape.Height}x{shape.Width}", nameof(patch));
        if (hidden < 1 || heads < 1 || hidden % heads != 0)
            throw new ArgumentException($"hidden ({hidden}) must be a positive multiple of heads ({heads})", nameof(hidden));
        this.shape = shape;
        this.patch = patch;
        this.hidden = hidden;
        var patches = shape.Height / patch * (shape.Width / patch);
        long patchPixels = (long)shape.Channels * patch * patch;
        patch_embed = new Dense(nameof(patch_embed), patchPixels, hidden, ParamRole.Embedding, Math.Sqrt(1.0 / patchPixels), init);
        cls_token = new LearnedTable(nameof(cls_token), 1, hidden, 0.02, init);
        pos_embed = new LearnedTable(nameof(pos_embed), patches + 1, hidden, 0.02, init);
        blocks = new ModuleList<TransformerBlock>();
        for (var i = 0; i < layers; i++)
            blocks.Add(new TransformerBlock(i, hidden, heads, 4 * hidden, causal: false, 1e-6, 0.02, 0.02, init));
        norm = new LayerNorm(nameof(norm), hidden, 1e-6);
        head = new Dense(nameof(head), hidden, shape.Classes, ParamRole.OutputHead, 0.02, init);
        register_module(nameof(patch_embed), patch_embed);
        register_module(nameof(cls_token), cls_token);
        register_module(nameof(pos_embed), pos_embed);
        register_module(nameof(blocks), blocks);
        register_module(nameof(norm), norm);
        register_module(nameof(head), head);
    }

    public override Tensor forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        long b = images.shape[0], gh = shape.Height / patch, gw = shape.Width / patch;
        // [B, C, gh, p, gw, p] -> [B, gh, gw, C, p, p] -> [B, patches, C·p·p]
        var patches = images.view(b, shape.Channels, gh, patch, gw, patch).permute(0, 2, 4, 1, 3, 5).reshape(b, gh * gw, -1);
        var tokens = patch_embed.forward(patches);
        var cls = cls_token.forward(zeros(1, ScalarType.Int64, images.device)).expand(b, 1, hidden);
        var x = cat([cls, tokens], 1) + pos_embed.forward(arange(gh * gw + 1, ScalarType.Int64, images.device));
        foreach (var block in blocks) x = block.forward(x);
        return head.forward(norm.forward(x).select(1, 0)).MoveToOuterDisposeScope();
    }

    public IReadOnlyList<NamedParameter> NamedParameters() => ParameterRoles.Collect(this);
}
