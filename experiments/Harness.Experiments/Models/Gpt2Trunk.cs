using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Harness.Experiments.Models;

/// <summary>The <c>transformer.</c> part of HF's GPT2LMHeadModel: token and position tables, blocks, final LayerNorm.</summary>
internal sealed class Gpt2Trunk : nn.Module<Tensor, Tensor>, IComputeDType
{
    private readonly nn.Module<Tensor, Tensor> wte;
    private readonly LearnedTable wpe;
    private readonly ModuleList<TransformerBlock> h;
    private readonly LayerNorm ln_f;

    public Gpt2Trunk(Gpt2Config c, Generator init) : base("transformer")
    {
        wte = c.StableEmbedding
            ? new StableEmbedding(nameof(wte), c.VocabSize, c.Hidden, init)
            : new LearnedTable(nameof(wte), c.VocabSize, c.Hidden, c.InitStd, init);
        // GPT-2 draws its position table with std 0.01 (nanoGPT and HF use the common 0.02; 0.01 is the original).
        wpe = new LearnedTable(nameof(wpe), c.Context, c.Hidden, c.InitStd / 2, init);
        h = new ModuleList<TransformerBlock>();
        // Residual projections scaled by 1/√(2L) (GPT-2 paper §2.3), so the residual stream's variance does not grow with depth.
        var residualStd = c.InitStd / Math.Sqrt(2.0 * c.Layers);
        for (var i = 0; i < c.Layers; i++)
            h.Add(new TransformerBlock(i, c.Hidden, c.Heads, c.Ffn, causal: true, c.LayerNormEps, c.InitStd, residualStd, init));
        ln_f = new LayerNorm(nameof(ln_f), c.Hidden, c.LayerNormEps);
        register_module(nameof(wte), wte);
        register_module(nameof(wpe), wpe);
        register_module(nameof(h), h);
        register_module(nameof(ln_f), ln_f);
    }

    /// <summary>The token table, which is also the output head.</summary>
    public Tensor TokenTable => wte is StableEmbedding stable ? stable.Weight : ((LearnedTable)wte).Weight;

    /// <summary>The tied head's matmul dtype under <c>training.dtype: mixed</c> (see <see cref="MixedPrecision"/>).</summary>
    public ScalarType? ComputeDType { get; set; }

    /// <summary>The tied output head: hidden states times the token table.</summary>
    public Tensor Head(Tensor hidden) => MixedPrecision.Linear(hidden, TokenTable, null, ComputeDType);

    public override Tensor forward(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        var positions = arange(tokens.shape[1], ScalarType.Int64, tokens.device);
        var x = wte.forward(tokens) + wpe.forward(positions);
        foreach (var block in h) x = block.forward(x);
        return ln_f.forward(x).MoveToOuterDisposeScope();
    }
}
