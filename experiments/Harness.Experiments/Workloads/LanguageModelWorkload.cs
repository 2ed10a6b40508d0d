using Harness.Experiments.Data;
using Harness.Experiments.Models;
using Harness.Optimizers;
using TorchSharp;
using static TorchSharp.torch;

namespace Harness.Experiments.Workloads;

/// <summary>
/// Next-token prediction with a <see cref="Llama"/> model on a built-in corpus. Training batches are
/// random windows of the training split drawn from a generator seeded by the run seed; evaluation uses
/// evenly spaced windows of the validation split, the same at every call and for every seed, so
/// validation losses compare along a run, across optimizers and across seeds.
/// </summary>
public sealed class LanguageModelWorkload : IWorkload, IRoutableLinears
{
    private readonly Llama model;
    private readonly Tensor tokens;          // the whole stream, int32, on the run's device
    private readonly Generator trainDraws, validationDraws;
    private readonly int batchSize, seqLen;
    private readonly Device device;

    /// <summary>Tokenizes the spec's corpus (no cache yet) and builds the model.</summary>
    public LanguageModelWorkload(LlamaSpec spec, WorkloadContext context)
        : this(spec, context, LoadTokens(spec))
    {
    }

    /// <summary>Builds the model for already tokenized data (its window must be seq_len + 1).</summary>
    /// <exception cref="ArgumentException">The spec is invalid or does not fit the data.</exception>
    public LanguageModelWorkload(LlamaSpec spec, WorkloadContext context, TokenStream data)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(data);
        var problems = spec.Validate().ToList();
        if (problems.Count > 0)
            throw new ArgumentException("invalid llama workload: " + string.Join("; ", problems.Select(p => $"{p.Key}: {p.Message}")), nameof(spec));
        if (data.Window != spec.SeqLen + 1)
            throw new ArgumentException($"token windows hold {data.Window} tokens but seq_len {spec.SeqLen} needs {spec.SeqLen + 1}", nameof(data));
        ArgumentOutOfRangeException.ThrowIfLessThan(context.BatchSize, 1);
        if (!is_floating_point(context.DType))
            throw new ArgumentException($"a language model needs a floating-point dtype (got {context.DType})", nameof(context));

        Config = LlamaConfig.FromSpec(spec, data.VocabSize);
        Data = data;
        batchSize = context.BatchSize;
        seqLen = spec.SeqLen;
        device = context.Device;

        using (var init = new Generator(SeedStreams.Derive(context.Seed, SeedStreams.Init), CPU))
            model = new Llama(Config, init);
        if (context.DType != ScalarType.Float32) model.to(context.DType);
        if (device.type != DeviceType.CPU) model.to(device);
        model.train();
        // Read after the moves: moving replaces the parameter objects.
        Parameters = model.NamedParameters();

        tokens = tensor(data.All.ToArray(), ScalarType.Int32, device);
        trainDraws = new Generator(SeedStreams.Derive(context.Seed, SeedStreams.TrainBatches), CPU);
        validationDraws = new Generator(SeedStreams.Derive(context.Seed, SeedStreams.ValidationBatches), CPU);
    }

    public LlamaConfig Config { get; }

    public TokenStream Data { get; }

    /// <summary>The model, for inspection (tests, parameter counts); the harness trains it through <see cref="Parameters"/>.</summary>
    public Llama Model => model;

    public IReadOnlyList<NamedParameter> Parameters { get; }

    public IReadOnlyList<string> RoutableWeights => model.ProjectionWeights();

    public void RouteLinears(ILinearRoute? route) => model.RouteProjections(route);

    public long TokensPerBatch => (long)batchSize * seqLen;

    public string ThroughputUnit => "tokens";

    /// <summary>batch_size random windows of the split: inputs [batch, seq_len] and targets shifted by one, both int64.</summary>
    public Batch NextBatch(Split split)
    {
        var (first, count, draws) = split switch
        {
            Split.Train => (0L, (long)Data.TrainLength, trainDraws),
            Split.Validation => ((long)Data.ValidationStart, (long)Data.ValidationLength, validationDraws),
            _ => throw new ArgumentOutOfRangeException(nameof(split)),
        };
        using var scope = NewDisposeScope();
        // Drawn on the CPU generator whatever the device: the batch sequence of a seed is device-independent.
        var starts = randint(first, first + count - Data.Window + 1, [batchSize], ScalarType.Int64, CPU, generator: draws);
        return Windows(starts, scope);
    }

    /// <summary>Mean next-token cross-entropy of a batch (a scalar with its graph).</summary>
    public Tensor Loss(Batch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        using var scope = NewDisposeScope();
        var logits = model.forward(batch.Inputs);
        if (logits.dtype != ScalarType.Float32) logits = logits.to_type(ScalarType.Float32);
        var loss = nn.functional.cross_entropy(logits.view(-1, Config.VocabSize), batch.Targets.view(-1));
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>Loss and perplexity over <paramref name="batches"/> × batch_size evenly spaced validation windows.</summary>
    public EvalResult Evaluate(int batches)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batches, 1);
        var starts = ValidationWindowStarts(batches);
        using var noGrad = no_grad();
        model.eval();
        try
        {
            double total = 0;
            for (var b = 0; b < batches; b++)
            {
                using var scope = NewDisposeScope();
                var batchStarts = tensor(starts.Skip(b * batchSize).Take(batchSize).ToArray(), ScalarType.Int64, CPU);
                using var batch = Windows(batchStarts, scope);
                using var loss = Loss(batch);
                total += loss.item<float>();
            }
            var mean = total / batches;
            return new EvalResult(mean, Math.Exp(mean), null);
        }
        finally
        {
            model.train();
        }
    }

    /// <summary>
    /// Token offsets of the windows <see cref="Evaluate"/> reads: batches × batch_size starts spread evenly
    /// over the validation split (windows overlap only when the split holds fewer windows than asked for).
    /// </summary>
    public IReadOnlyList<long> ValidationWindowStarts(int batches)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batches, 1);
        var n = (long)batches * batchSize;
        long span = Data.ValidationLength - Data.Window;
        var starts = new long[n];
        for (long i = 0; i < n; i++)
            starts[i] = Data.ValidationStart + (n == 1 ? 0 : span * i / (n - 1));
        return starts;
    }

    /// <summary>Gathers windows at <paramref name="starts"/> (CPU int64) into a batch that outlives <paramref name="scope"/>.</summary>
    private Batch Windows(Tensor starts, DisposeScope scope)
    {
        var offsets = arange(Data.Window, ScalarType.Int64, CPU);
        var index = (starts.unsqueeze(1) + offsets).to(device);
        var windows = tokens.index_select(0, index.view(-1)).view(starts.shape[0], Data.Window).to_type(ScalarType.Int64);
        var inputs = windows.narrow(1, 0, seqLen).contiguous();
        var targets = windows.narrow(1, 1, seqLen).contiguous();
        scope.MoveToOuter(inputs, targets);
        return new Batch(inputs, targets);
    }

    private static TokenStream LoadTokens(LlamaSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var tokenizer = TokenizerCatalog.Create(spec.Data.Tokenizer);
        return TokenStream.Encode(CorpusCatalog.ReadText(spec.Data.Corpus), tokenizer, spec.Data.ValFraction, spec.SeqLen + 1);
    }

    public void Dispose()
    {
        model.Dispose();
        tokens.Dispose();
        trainDraws.Dispose();
        validationDraws.Dispose();
    }
}
