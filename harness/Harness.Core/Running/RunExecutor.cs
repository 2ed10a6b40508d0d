using Harness.Core.Config;
using Harness.Core.Meters;
using Harness.Core.Planning;
using Harness.Core.Results;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Core.Running;

/// <summary>
/// Trains one planned run: builds the workload and the optimizer from the spec, steps through the
/// schedule inside a dispose scope per step, evaluates before training and every <c>eval_every</c>
/// steps, appends <c>steps.csv</c> as it goes and ends with <c>metrics.csv</c> and the final manifest.
/// A failure ends this run only: its status and message go to the manifest, and the sweep continues.
/// </summary>
public sealed class RunExecutor(ResultStore store, Device device, Provenance provenance, IRunObserver observer)
{
    private sealed record Outcome(RunStatus Status, string? Message, string Implementation, string StateDtype);

    public RunStatus Execute(ExperimentConfig config, PlannedRun run, CancellationToken cancel)
    {
        var manifest = NewManifest(config, run, provenance, RunStatus.Running);
        store.WriteManifest(manifest);
        var metrics = new List<MetricRecord>();
        Outcome outcome;
        using (var steps = store.OpenSteps(config.Name, run.RunId, truncate: true))
        {
            try
            {
                outcome = Train(config, run, steps, metrics, cancel);
            }
            catch (OperationCanceledException)
            {
                outcome = new Outcome(RunStatus.Failed, "interrupted", "", "");
            }
            catch (Exception e) when (IsOutOfMemory(e))
            {
                outcome = new Outcome(RunStatus.Oom, FirstLine(e.Message), "", "");
            }
            catch (Exception e)
            {
                outcome = new Outcome(RunStatus.Failed, $"{e.GetType().Name}: {FirstLine(e.Message)}", "", "");
            }
        }
        store.WriteMetrics(config.Name, run.RunId, metrics);
        store.WriteManifest(manifest with
        {
            Status = outcome.Status,
            Message = outcome.Message,
            Implementation = outcome.Implementation,
            StateDtype = outcome.StateDtype,
            EndedUtc = DateTimeOffset.UtcNow,
        });
        observer.RunFinished(run, outcome.Status, outcome.Message);
        cancel.ThrowIfCancellationRequested();
        return outcome.Status;
    }

    /// <summary>The manifest of a run as it starts (or is skipped): everything but how it ended.</summary>
    internal static RunManifest NewManifest(ExperimentConfig config, PlannedRun run, Provenance provenance, RunStatus status) => new()
    {
        RunId = run.RunId,
        Experiment = config.Name,
        Optimizer = run.Variant.Kind,
        Label = run.Variant.Label,
        Seed = run.Seed,
        Status = status,
        SweepValues = run.Variant.SweepValues,
        Spec = run.Spec.ToJson(),
        Provenance = provenance,
        StartedUtc = DateTimeOffset.UtcNow,
        ConfigPath = config.SourcePath,
    };

    private Outcome Train(ExperimentConfig config, PlannedRun run, CsvFiles.Appender<StepRecord> steps, List<MetricRecord> metrics, CancellationToken cancel)
    {
        var training = config.Training;
        var workloadDescriptor = WorkloadCatalog.All.First(d => d.SpecType == config.Workload.GetType());
        var optimizerDescriptor = OptimizerCatalog.Find(run.Variant.Kind)!;
        using var workload = workloadDescriptor.Create(config.Workload, new WorkloadContext(run.Seed, device, ScalarType.Float32, training.BatchSize));
        using var optimizer = optimizerDescriptor.Create(workload.Parameters, run.Variant.Options);
        var clock = new SynchronizedClock(device);
        using var fused = config.StepMode == StepMode.FusedBackward
            ? new FusedBackwardStepDriver(clock, training.FusedSlabRows ?? FusedBackwardStepDriver.DefaultSlabRows, training.GradClip) : null;
        IStepDriver driver = fused is null ? new StandardStepDriver(clock, training.GradClip) : fused;
        var timing = new TimingMeter(workload.ThroughputUnit);
        var tokensPerStep = workload.TokensPerBatch * training.GradAccumulation;
        var paramCount = workload.Parameters.Sum(p => p.Value.numel());
        metrics.Add(new() { Name = MetricNames.ParamCount, Value = paramCount, Unit = "parameters" });

        var evalSeconds = 0.0;
        EvalResult Evaluate()
        {
            var start = clock.Now();
            var result = workload.Evaluate(training.EvalBatches);
            evalSeconds += clock.Now() - start;
            return result;
        }

        var initial = Evaluate();
        var lastEval = initial;
        steps.Append(Row(0, 0, 0, config.Schedule.Multiplier(0, training.Steps) * run.Variant.Options.Lr, null, initial));
        metrics.Add(new() { Name = MetricNames.InitialEvalLoss, Value = initial.Loss, Unit = "nats" });

        var trainSeconds = 0.0;
        double? lastLoss = null;
        var status = RunStatus.Completed;
        string? message = null;
        var stepsDone = 0;
        var timings = new StepTimings();
        for (var step = 1; step <= training.Steps; step++)
        {
            cancel.ThrowIfCancellationRequested();
            var lr = run.Variant.Options.Lr * config.Schedule.Multiplier(step - 1, training.Steps);
            var logNow = step % training.LogEvery == 0 || step == training.Steps;
            var start = clock.Now();
            double? loss = null;
            using (NewDisposeScope())
            {
                var batches = new List<Batch>(training.GradAccumulation);
                for (var i = 0; i < training.GradAccumulation; i++) batches.Add(workload.NextBatch(Split.Train));
                var lossTensor = driver.TrainStep(workload, optimizer, batches, lr, timings);
                if (logNow) loss = lossTensor.item<float>();
            }
            var seconds = clock.Now() - start;
            trainSeconds += seconds;
            stepsDone = step;
            timing.OnStepEnd(new StepContext(step, seconds, timings.OptimizerSeconds, tokensPerStep, step > training.TimingWarmupSteps));

            EvalResult? eval = null;
            if (loss is { } l && !double.IsFinite(l))
            {
                status = RunStatus.Diverged;
                message = $"training loss became {l} at step {step}";
            }
            else if ((training.EvalEvery > 0 && step % training.EvalEvery == 0) || step == training.Steps)
            {
                eval = lastEval = Evaluate();
            }
            if (loss is not null) lastLoss = loss;
            if (loss is not null || eval is not null)
            {
                var record = Row(step, step * tokensPerStep, trainSeconds, lr, loss, eval);
                steps.Append(record);
                // Progress display only: includes the warm-up; the reported metric excludes it.
                double? rate = trainSeconds > 0 ? step * tokensPerStep / trainSeconds : null;
                var remaining = TimeSpan.FromSeconds(trainSeconds / step * (training.Steps - step));
                observer.Progress(run, record, training.Steps, rate, remaining);
            }
            if (status != RunStatus.Completed) break;
        }

        metrics.Add(new() { Name = MetricNames.StepsDone, Value = stepsDone, Unit = "steps" });
        metrics.Add(new() { Name = MetricNames.FinalTrainLoss, Value = lastLoss, Unit = "nats", Note = "mean over the last logged step's micro-batches" });
        metrics.Add(new() { Name = MetricNames.FinalEvalLoss, Value = status == RunStatus.Completed ? lastEval.Loss : null, Unit = "nats", Note = $"{training.EvalBatches} fixed validation batches" });
        metrics.Add(new() { Name = MetricNames.FinalEvalPerplexity, Value = status == RunStatus.Completed ? lastEval.Perplexity : null, Unit = "" });
        if (lastEval.Accuracy is not null)
            metrics.Add(new() { Name = MetricNames.FinalEvalAccuracy, Value = lastEval.Accuracy, Unit = "fraction" });
        metrics.Add(new() { Name = MetricNames.StateBytes, Value = optimizer.StateBytes, Unit = "bytes", Note = "sum of state tensor bytes (M1)" });
        metrics.Add(new()
        {
            Name = MetricNames.ExpectedStateBytes,
            Value = optimizerDescriptor.ExpectedStateBytes(workload.Parameters, run.Variant.Options),
            Unit = "bytes",
            Note = "closed-form formula of the optimizer",
        });
        var noProbe = $"no allocator statistics on {device.type.ToString().ToLowerInvariant()}";
        metrics.Add(new() { Name = MetricNames.StepTransientBytes, Value = null, Unit = "bytes", Note = noProbe });
        metrics.Add(new() { Name = MetricNames.TrainStepPeakBytes, Value = null, Unit = "bytes", Note = noProbe });
        metrics.Add(new() { Name = MetricNames.ReservedBytes, Value = null, Unit = "bytes", Note = noProbe });
        metrics.AddRange(timing.Collect());
        metrics.Add(new() { Name = MetricNames.TrainSeconds, Value = trainSeconds, Unit = "s", Note = "training steps only" });
        metrics.Add(new() { Name = MetricNames.EvalSeconds, Value = evalSeconds, Unit = "s", Note = "evaluation, excluded from throughput" });
        return new Outcome(status, message, optimizer.Implementation, optimizer.StateDtype);
    }

    private static StepRecord Row(int step, long tokens, double elapsed, double lr, double? loss, EvalResult? eval) => new()
    {
        Step = step,
        Tokens = tokens,
        ElapsedS = elapsed,
        Lr = lr,
        TrainLoss = loss,
        EvalLoss = eval?.Loss,
        EvalPerplexity = eval?.Perplexity,
        EvalAccuracy = eval?.Accuracy,
    };

    private static bool IsOutOfMemory(Exception e) =>
        e is OutOfMemoryException || e.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase);

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();
}
