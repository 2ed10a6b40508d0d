using Harness.Optimizers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>Token embedding table [vocab, hidden], initialised from the run's generator (see <see cref="Projection"/>).</summary>
internal sealed class TokenEmbedding : nn.Module<Tensor, Tensor>, IHasParamRole
{
    private readonly Parameter weight;

    public TokenEmbedding(long vocab, long hidden, double std, Generator init) : base("embed_tokens")
    {
        using (no_grad())
            weight = new Parameter(empty(vocab, hidden).normal_(0, std, init));
        register_parameter(nameof(weight), weight);
    }

    public ParamRole Role => ParamRole.Embedding;

    /// <summary>[batch, seq] token ids -> [batch, seq, hidden].</summary>
    public override Tensor forward(Tensor tokens)
    {
        using var flat = tokens.reshape(-1);
        using var rows = weight.index_select(0, flat);
        return rows.view(tokens.shape[0], tokens.shape[1], weight.shape[1]);
    }
}
