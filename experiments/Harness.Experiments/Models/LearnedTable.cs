using Harness.Optimizers;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>
/// A learned lookup table [rows, width] (GPT-2's token table <c>wte</c> and position table <c>wpe</c>, a
/// ViT's position embedding), normal(0, std) from the run's generator; role <see cref="ParamRole.Embedding"/>.
/// </summary>
internal sealed class LearnedTable : nn.Module<Tensor, Tensor>, IHasParamRole
{
    private readonly Parameter weight;

    public LearnedTable(string name, long rows, long width, double std, Generator init) : base(name)
    {
        using (no_grad())
            weight = new Parameter(empty(rows, width).normal_(0, std, init));
        register_parameter(nameof(weight), weight);
    }

    public ParamRole Role => ParamRole.Embedding;

    /// <summary>The table itself (GPT-2 reuses the token table as its output head).</summary>
    public Tensor Weight => weight;

    /// <summary>Rows at <paramref name="ids"/> (any shape of int64 ids) -> ids.shape + [width].</summary>
    public override Tensor forward(Tensor ids)
    {
        using var flat = ids.reshape(-1);
        using var rows = weight.index_select(0, flat);
        return rows.view([.. ids.shape, weight.shape[1]]);
    }
}
