using Harness.Experiments.Data;
using Harness.Experiments.Models;
using Harness.Optimizers;
using Harness.Optimizers.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Harness.Experiments.Workloads;

/// <summary>
/// Next-token prediction with a decoder (<see cref="Llama"/> or <see cref="Gpt2"/>) on a corpus. Training
/// batches are random windows of the training split drawn from a generator seeded by the run seed;
/// evaluation uses evenly spaced windows of the validation split, the same at every call and for every
/// seed, so validation losses compare along a run, across optimizers and across seeds. Windows are
/// copied out of the token stream on the CPU (a memory-mapped file is never loaded whole) and moved to
/// the run's device.
/// </summary>
public sealed class LanguageModelWorkload : IWorkload, IRoutableLinears, IQuantizableMatrices
{
    private readonly ICausalLanguageModel model;
    private readonly Generator trainDraws, validationDraws;
    private readonly int batchSize, seqLen;
    private readonly Device device;

    /// <summary>Loads the spec's corpus (through the token cache when the context names one) and builds a LLaMA model.</summary>
    /// <exception cref="DataException">The corpus files are missing or malformed.</exception>
    public LanguageModelWorkload(LlamaSpec spec, WorkloadContext context)
        : this(spec, context, LoadTokens(spec?.Data, spec?.SeqLen ?? 0, context))
    {
    }

    /// <summary>Builds a LLaMA model for already tokenized data (its window must be seq_len + 1).</summary>
    /// <exception cref="ArgumentException">The spec is invalid or does not fit the data.</exception>
    public LanguageModelWorkload(LlamaSpec spec, WorkloadContext context, TokenStream data)
        : this(Checked(spec, spec?.SeqLen ?? 0, "llama"), context, data,
               init => new Llama(LlamaConfig.FromSpec(spec!, ModelVocabulary.ForTraining(spec!.VocabSize, spec.Data.Tokenizer, data.VocabSize)), init))
    {
    }

    /// <summary>Loads the spec's corpus and builds a GPT-2 model.</summary>
    /// <exception cref="DataException">The corpus files are missing or malformed.</exception>
    public LanguageModelWorkload(Gpt2Spec spec, WorkloadContext context)
        : this(spec, context, LoadTokens(spec?.Data, spec?.SeqLen ?? 0, context))
    {
    }

    /// <summary>Builds a GPT-2 model for already tokenized data.</summary>
    public LanguageModelWorkload(Gpt2Spec spec, WorkloadContext context, TokenStream data)
        : this(Checked(spec, spec?.SeqLen ?? 0, "gpt2"), context, data,
               init => new Gpt2(Gpt2Config.FromSpec(spec!, ModelVocabulary.ForTraining(spec!.VocabSize, spec.Data.Tokenizer, data.VocabSize)), init))
    {
    }

    private LanguageModelWorkload(int seqLen, WorkloadContext context, TokenStream data, Func<Generator, ICausalLanguageModel> build)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(data);
        if (data.Window != seqLen + 1)
            throw new ArgumentException($"token windows hold {data.Window} tokens but seq_len {seqLen} needs {seqLen + 1}", nameof(data));
        ArgumentOutOfRangeException.ThrowIfLessThan(context.BatchSize, 1);
        if (!is_floating_point(context.DType))
            throw new ArgumentException($"a language model needs a floating-point dtype (got {context.DType})", nameof(context));

        Data = data;
        batchSize = context.BatchSize;
        this.seqLen = seqLen;
        device = context.Device;

        using (var init = new Generator(SeedStreams.Derive(context.Seed, SeedStreams.Init), CPU))
            model = build(init);
        if (model.MaxSequenceLength is { } max && seqLen > max)
        {
            model.Dispose();
            throw new ArgumentException($"seq_len {seqLen} is longer than the model's context of {max} positions", nameof(data));
        }
        if (context.ActivationCheckpointing)
        {
            if (model is not Llama llama)
            {
                model.Dispose();
                throw new ArgumentException("activation checkpointing is built for the llama workload only", nameof(context));
            }
            llama.CheckpointActivations = true;
        }
        if (context.ComputeDType is { } compute && compute != context.DType) model.ComputeIn(compute);
        if (context.DType != ScalarType.Float32) model.Module.to(context.DType);
        if (device.type != DeviceType.CPU) model.Module.to(device);
        model.Module.train();
        // Read after the moves: moving replaces the parameter objects.
        Parameters = model.NamedParameters();

        trainDraws = new Generator(SeedStreams.Derive(context.Seed, SeedStreams.TrainBatches), CPU);
        validationDraws = new Generator(SeedStreams.Derive(context.Seed, SeedStreams.ValidationBatches), CPU);
    }

    private static int Checked(WorkloadSpec? spec, int seqLen, string kind)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var problems = spec.Validate().ToList();
        if (problems.Count > 0)
            throw new ArgumentException($"invalid {kind} workload: " + string.Join("; ", problems.Select(p => $"{p.Key}: {p.Message}")), nameof(spec));
        return seqLen;
    }

    /// <summary>The model's shape: its exact parameter count and vocabulary.</summary>
    public ICausalLanguageModel Config => model;

    public TokenStream Data { get; }

    /// <summary>The model, for inspection (tests, parameter counts); the harness trains it through <see cref="Parameters"/>.</summary>
    public nn.Module Model => model.Module;

    public IReadOnlyList<NamedParameter> Parameters { get; private set; }

    /// <summary>LLaMA's attention and MLP projections (GPT-2's fused <c>Dense</c> layers stay dense: 0).</summary>
    public int StoreMatricesQuantized(QuantizedWeightFormat format)
    {
        if (model is not Llama llama) return 0;
        var count = llama.StoreMatricesQuantized(format);
        Parameters = model.NamedParameters();
        return count;
    }

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
        var logits = model.Logits(batch.Inputs);
        if (logits.dtype != ScalarType.Float32) logits = logits.to_type(ScalarType.Float32);
        var loss = nn.functional.cross_entropy(logits.view(-1, model.VocabSize), batch.Targets.view(-1));
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>Loss and perplexity over <paramref name="batches"/> × batch_size evenly spaced validation windows.</summary>
    public EvalResult Evaluate(int batches)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batches, 1);
        var starts = ValidationWindowStarts(batches);
        using var noGrad = no_grad();
        model.Module.eval();
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
            model.Module.train();
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

    /// <summary>Copies the windows at <paramref name="starts"/> (CPU int64) into a batch that outlives <paramref name="scope"/>.</summary>
    private Batch Windows(Tensor starts, DisposeScope scope)
    {
        var n = (int)starts.shape[0];
        var at = starts.data<long>().ToArray();
        var buffer = new long[n * Data.Window];
        for (var i = 0; i < n; i++) Data.CopyWindow(at[i], buffer.AsSpan(i * Data.Window, Data.Window));
        var host = tensor(buffer, [n, Data.Window], ScalarType.Int64);
        // On CUDA: a pinned staging copy and an asynchronous upload, so drawing a batch never waits for the GPU
        // to drain its queue (a pageable copy would synchronise the stream every step and starve the GPU while
        // the host enqueues the next forward). The caching host allocator keeps the pinned block alive until the
        // copy has run.
        var windows = device.type == DeviceType.CUDA ? host.pin_memory().to(device, non_blocking: true) : host.to(device);
        var inputs = windows.narrow(1, 0, seqLen).contiguous();
        var targets = windows.narrow(1, 1, seqLen).contiguous();
        scope.MoveToOuter(inputs, targets);
        return new Batch(inputs, targets);
    }

    /// <summary>The two batch generators' states (the validation windows are fixed, so only draws matter).</summary>
    public IReadOnlyDictionary<string, Tensor> SaveState() =>
        BatchGeneratorState.Save(("train_generator", trainDraws), ("validation_generator", validationDraws));

    public void LoadState(IReadOnlyDictionary<string, Tensor> state) =>
        BatchGeneratorState.Load(state, ("train_generator", trainDraws), ("validation_generator", validationDraws));

    private static TokenStream LoadTokens(TextDataSpec? data, int seqLen, WorkloadContext context)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(context);
        var tokenizer = TokenizerCatalog.Create(data.Tokenizer, context.Data);
        return TextCorpus.Load(data.Corpus, data.TextColumn, tokenizer, data.ValFraction, seqLen + 1, context.Data);
    }

    public void Dispose()
    {
        model.Dispose();
        Data.Dispose();
        trainDraws.Dispose();
        validationDraws.Dispose();
    }
}
