namespace Harness.Core.Checks;

/// <summary>
/// The training run of a whole-run equivalence check (<see cref="WholeRunEquivalence"/>): a LLaMA-style decoder on the
/// GPT-2 tokens of the bundled Moby Dick, ids folded into the first <see cref="Vocab"/> rows (a slice of GPT-2's
/// vocabulary: most rows absent from a batch, so the embedding gradient is row-sparse), under a cosine schedule with
/// linear warm-up, as training uses the fused steps.
/// </summary>
public sealed record WholeRunSetup
{
    /// <summary>Embedding and head rows: GPT-2 ids at or above it are folded in (id mod Vocab); 50257 keeps them all.</summary>
    public int Vocab { get; init; } = 4096;
    public int Hidden { get; init; } = 16;
    public int Layers { get; init; } = 6;
    public int Heads { get; init; } = 2;
    public int Ffn { get; init; } = 40;
    public int SeqLen { get; init; } = 16;
    public int BatchSize { get; init; } = 2;
    public int Steps { get; init; } = 60;
    public int WarmupSteps { get; init; } = 10;
    /// <summary>Peak learning rate; the schedule decays it to <see cref="MinRatio"/> of that.</summary>
    public double Lr { get; init; } = 3e-3;
    public double MinRatio { get; init; } = 0.1;
    public double WeightDecay { get; init; } = 0.1;
    public int Seed { get; init; } = 3;
    /// <summary>Characters of the corpus tokenized (a prefix: tokenizing all 1.2 MB takes seconds); 0 for all.</summary>
    public int TextChars { get; init; } = 100_000;
    /// <summary>8-bit Adam's <c>min_8bit_size</c>: smaller tensors take its fp32 path.</summary>
    public long Min8BitSize { get; init; } = 4096;
    /// <summary>FORGE's slab height (rows) for the tile-vs-slabs comparison.</summary>
    public long SlabRows { get; init; } = 16;

    /// <summary>
    /// The size gpu-check runs on CUDA: 100 steps, 24 layers (219 tensors: more than one launch group even at 192
    /// tensors a launch) and the whole GPT-2 vocabulary at hidden 512 (embedding and head of 25.7M elements each).
    /// </summary>
    public static WholeRunSetup Cuda { get; } = new()
    {
        Vocab = 50257, Hidden = 512, Layers = 24, Heads = 8, Ffn = 1376, SeqLen = 128, BatchSize = 8, Steps = 100, WarmupSteps = 10, Lr = 1e-3, TextChars = 0,
        SlabRows = 256,
    };

    /// <summary>Parameter tensors of the model: per layer four attention and three MLP matrices and two norms; embedding, final norm, head.</summary>
    public int TensorCount => 9 * Layers + 3;

    public string Describe() =>
        $"LLaMA d={Hidden} L={Layers} ffn={Ffn} V={Vocab} ({TensorCount} tensors), {Steps} steps, cosine with {WarmupSteps} warm-up, batch {BatchSize}x{SeqLen}";
}
