using Harness.Experiments.Data;
using Harness.Experiments.Models;
using Harness.Optimizers;
using TorchSharp;
using static TorchSharp.torch;

namespace Harness.Experiments.Workloads;

/// <summary>
/// Image classification (MLP, CNN or ViT) with cross-entropy. Pixels are scaled to [0, 1] and centred
/// (x − 0.5); the whole set lives on the run's device. Training batches are random samples (with
/// replacement) from a generator seeded by the run seed; evaluation reads the first
/// batches × batch_size test images in order (wrapping), the same at every call, and reports top-1 accuracy.
/// </summary>
public sealed class ImageClassificationWorkload : IWorkload
{
    private readonly nn.Module<Tensor, Tensor> model;
    private readonly Tensor trainImages, trainLabels, testImages, testLabels;
    private readonly Generator trainDraws, validationDraws;
    private readonly int batchSize;

    /// <exception cref="DataException">The dataset is missing or malformed.</exception>
    public ImageClassificationWorkload(ImageClassifierSpec spec, WorkloadContext context)
        : this(spec, context, ImageSources.Load(spec?.Data.Dataset ?? "", context?.Data ?? DataLocations.None))
    {
    }

    /// <summary>Builds the model for already loaded images.</summary>
    /// <exception cref="ArgumentException">The spec is invalid or does not fit the images.</exception>
    public ImageClassificationWorkload(ImageClassifierSpec spec, WorkloadContext context, (ImageSet Train, ImageSet Test) data)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(context);
        var problems = spec.Validate().ToList();
        if (problems.Count > 0)
            throw new ArgumentException("invalid image workload: " + string.Join("; ", problems.Select(p => $"{p.Key}: {p.Message}")), nameof(spec));
        ArgumentOutOfRangeException.ThrowIfLessThan(context.BatchSize, 1);
        var (train, test) = data;
        Shape = new ImageShape(train.Channels, train.Height, train.Width, train.Classes);
        batchSize = context.BatchSize;

        using (var init = new Generator(SeedStreams.Derive(context.Seed, SeedStreams.Init), CPU))
        {
            model = spec switch
            {
                MlpSpec m => new ImageMlp(Shape, m.Width, m.Depth, init),
                CnnSpec c => new SmallCnn(Shape, c.Channels, init),
                VitSpec v => new VisionTransformer(Shape, v.Patch, v.Hidden, v.Layers, v.Heads, init),
                _ => throw new ArgumentException($"no image model for {spec.GetType().Name}", nameof(spec)),
            };
        }
        if (context.DType != ScalarType.Float32) model.to(context.DType);
        if (context.Device.type != DeviceType.CPU) model.to(context.Device);
        model.train();
        Parameters = model switch
        {
            ImageMlp m => m.NamedParameters(),
            SmallCnn c => c.NamedParameters(),
            VisionTransformer v => v.NamedParameters(),
            _ => throw new InvalidOperationException("unreachable"),
        };
        (trainImages, trainLabels) = Upload(train, context);
        (testImages, testLabels) = Upload(test, context);
        trainDraws = new Generator(SeedStreams.Derive(context.Seed, SeedStreams.TrainBatches), CPU);
        validationDraws = new Generator(SeedStreams.Derive(context.Seed, SeedStreams.ValidationBatches), CPU);
    }

    private static (Tensor Images, Tensor Labels) Upload(ImageSet set, WorkloadContext context)
    {
        using var scope = NewDisposeScope();
        var bytes = tensor(set.Pixels, [set.Count, set.Channels, set.Height, set.Width], ScalarType.Byte);
        var images = bytes.to_type(ScalarType.Float32).div_(255).sub_(0.5).to(context.DType).to(context.Device);
        var labels = tensor(set.Labels, ScalarType.Byte).to_type(ScalarType.Int64).to(context.Device);
        scope.MoveToOuter(images, labels);
        return (images, labels);
    }

    public ImageShape Shape { get; }

    public nn.Module Model => model;

    public IReadOnlyList<NamedParameter> Parameters { get; }

    public long TokensPerBatch => batchSize;

    public string ThroughputUnit => "samples";

    /// <summary>batch_size random images of the split (the test set serves as validation).</summary>
    public Batch NextBatch(Split split)
    {
        var (images, labels, draws) = split switch
        {
            Split.Train => (trainImages, trainLabels, trainDraws),
            Split.Validation => (testImages, testLabels, validationDraws),
            _ => throw new ArgumentOutOfRangeException(nameof(split)),
        };
        using var scope = NewDisposeScope();
        var index = randint(0, images.shape[0], [batchSize], ScalarType.Int64, CPU, generator: draws).to(images.device);
        return Take(images, labels, index, scope);
    }

    private static Batch Take(Tensor images, Tensor labels, Tensor index, DisposeScope scope)
    {
        var x = images.index_select(0, index);
        var y = labels.index_select(0, index);
        scope.MoveToOuter(x, y);
        return new Batch(x, y);
    }

    public Tensor Loss(Batch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        using var scope = NewDisposeScope();
        var logits = model.forward(batch.Inputs);
        if (logits.dtype != ScalarType.Float32) logits = logits.to_type(ScalarType.Float32);
        return nn.functional.cross_entropy(logits, batch.Targets).MoveToOuterDisposeScope();
    }

    /// <summary>Mean loss and top-1 accuracy over the first batches × batch_size test images (in order, wrapping).</summary>
    public EvalResult Evaluate(int batches)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batches, 1);
        using var noGrad = no_grad();
        model.eval();
        try
        {
            double loss = 0;
            long correct = 0, seen = 0;
            var total = testImages.shape[0];
            for (var b = 0; b < batches; b++)
            {
                using var scope = NewDisposeScope();
                var index = arange(b * (long)batchSize, (b + 1) * (long)batchSize, ScalarType.Int64, CPU).remainder_(total).to(testImages.device);
                using var batch = Take(testImages, testLabels, index, scope);
                var logits = model.forward(batch.Inputs).to_type(ScalarType.Float32);
                loss += nn.functional.cross_entropy(logits, batch.Targets).item<float>();
                correct += logits.argmax(1).eq(batch.Targets).sum().item<long>();
                seen += batchSize;
            }
            return new EvalResult(loss / batches, null, (double)correct / seen);
        }
        finally
        {
            model.train();
        }
    }

    /// <summary>The two batch generators' states (the validation set is fixed, so only draws matter).</summary>
    public IReadOnlyDictionary<string, Tensor> SaveState() =>
        BatchGeneratorState.Save(("train_generator", trainDraws), ("validation_generator", validationDraws));

    public void LoadState(IReadOnlyDictionary<string, Tensor> state) =>
        BatchGeneratorState.Load(state, ("train_generator", trainDraws), ("validation_generator", validationDraws));

    public void Dispose()
    {
        model.Dispose();
        trainImages.Dispose();
        trainLabels.Dispose();
        testImages.Dispose();
        testLabels.Dispose();
        trainDraws.Dispose();
        validationDraws.Dispose();
    }
}
