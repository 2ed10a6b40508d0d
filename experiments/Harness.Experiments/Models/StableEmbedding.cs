using Harness.Optimizers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>
/// bitsandbytes' <c>StableEmbedding</c> (<c>bitsandbytes/nn/modules.py</c>; Dettmers et al., arXiv 2110.02861 §2.3, used
/// for the paper's language models): a token table drawn xavier-uniform, U(−a, a) with a = √(6 / (rows + width)),
/// followed by a LayerNorm over the width (weight ones, bias zeros, ε = 1e-5) computed in float32 and cast back; the
/// table asks for 32-bit optimizer state (<see cref="NamedParameter.FullPrecisionState"/>), as bnb registers
/// <c>optim_bits: 32</c> for it. The norm's parameters are vectors, in the module <c>norm</c>.
/// </summary>
internal sealed class StableEmbedding : nn.Module<Tensor, Tensor>, IHasParamRole, IFullPrecisionState
{
    private readonly Parameter weight;
    private readonly LayerNorm norm;

    public StableEmbedding(string name, long rows, long width, Generator init) : base(name)
    {
        var bound = Math.Sqrt(6.0 / (rows + width));
        using (no_grad())
            weight = new Parameter(empty(rows, width).uniform_(-bound, bound, init));
        norm = new LayerNorm(nameof(norm), width);
        register_parameter(nameof(weight), weight);
        register_module(nameof(norm), norm);
    }

    public ParamRole Role => ParamRole.Embedding;

    public bool FullPrecisionState => true;

    /// <summary>The table itself (GPT-2 reuses it as its output head).</summary>
    public Tensor Weight => weight;

    /// <summary>Ids of any shape -> ids.shape + [width], layer-normed.</summary>
    public override Tensor forward(Tensor ids)
    {
        using var scope = NewDisposeScope();
        var rows = weight.index_select(0, ids.reshape(-1)).view([.. ids.shape, weight.shape[1]]);
        return norm.forward(rows.to(ScalarType.Float32)).to(weight.dtype).MoveToOuterDisposeScope();
    }
}
