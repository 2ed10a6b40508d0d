using Harness.Core.Checkpoints;
using Harness.Core.Config;
using Harness.Core.Devices;
using Harness.Core.Distributed;
using Harness.Core.Meters;
using Harness.Core.Planning;
using Harness.Results;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Core.Running;

/// <summary>
/// Trains one planned run: builds the workload and the optimizer from the spec, steps through the
/// schedule inside a dispose scope per step, evaluates before training and every <c>eval_every</c>
/// steps, appends <c>steps.csv</c>, <c>timing.csv</c>, <c>updates.csv</c> (<see cref="UpdateTelemetry"/>, logged steps) and
/// <c>events.csv</c> (<see cref="LossMonitor"/>) as it goes (and, with <c>logging.tensorboard</c>, the same
/// numbers as TensorBoard scalars: <see cref="TensorBoardSink"/>), writes a checkpoint every
/// <c>checkpoint_every</c> steps, and ends with <c>metrics.csv</c> and the final manifest. A run with a
/// checkpoint resumes from it (rows written after the checkpoint are dropped first), so a resumed run
/// writes the same <c>steps.csv</c> as an uninterrupted one. A failure ends this run only: diverged, oom
/// or failed with its message in the manifest, and the sweep continues. A checkpoint that cannot be used
/// is not a run failure but bad input: its <see cref="CheckpointException"/> goes to the caller, and so does a
/// <see cref="Harness.Experiments.Data.DataException"/> (missing or corrupt data fails every run of the sweep alike).
/// </summary>
/// <param name="cacheDirectory">Token files and prepared datasets (null: tokenize in memory, no prepared data).</param>
/// <param name="collective">
/// This process's rank in a data-parallel run (null or one rank: a single-device run). Each run then starts from rank
/// 0's weights, trains on this rank's share of every batch with the optimizer state sharded (ZeRO-1), and reports the
/// state bytes of every rank; every rank executes every run, and only rank 0's store is the run folder.
/// </param>
public sealed class RunExecutor(ResultStore store, DeviceSession session, Provenance provenance, IRunObserver observer,
    string? cacheDirectory = null, IFaultInjector? faults = null, ICollective? collective = null)
{
    public RunExecutor(ResultStore store, Device device, Provenance provenance, IRunObserver observer, string? cacheDirectory = null, IFaultInjector? faults = null)
        : this(store, DeviceSession.Basic(device), provenance, observer, cacheDirectory, faults) { }

    private readonly IFaultInjector _faults = faults ?? new NoFaults();

    private Device device => session.Device;

    private sealed record Outcome(RunStatus Status, string? Message, string Implementation, string StateDtype);

    public RunStatus Execute(ExperimentConfig config, PlannedRun run, CancellationToken cancel)
    {
        var checkpoint = store.CheckpointPath(config.Name, run.RunId);
        DeleteStaleTemporaries(checkpoint);
        int? resumeFrom = File.Exists(checkpoint) ? CheckpointFile.ReadStep(checkpoint) : null;
        if (resumeFrom is { } k) store.TruncateRunFiles(config.Name, run.RunId, k);
        var manifest = NewManifest(config, run, provenance, RunStatus.Running) with { ResumedFromStep = resumeFrom };
        store.WriteManifest(manifest);
        var metrics = new List<MetricRecord>();
        Outcome outcome;
        using (var steps = store.OpenSteps(config.Name, run.RunId, truncate: resumeFrom is null))
        using (var timing = store.OpenTiming(config.Name, run.RunId, truncate: resumeFrom is null))
        using (var updates = store.OpenUpdates(config.Name, run.RunId, truncate: resumeFrom is null))
        using (var events = store.OpenEvents(config.Name, run.RunId, truncate: resumeFrom is null))
        {
            try
            {
                outcome = Train(config, run, checkpoint, resumeFrom is not null, new RunFiles(steps, timing, updates, events), metrics, cancel);
            }
            catch (OperationCanceledException)
            {
                outcome = new Outcome(RunStatus.Failed, "interrupted", "", "");
            }
            catch (Exception e) when (IsOutOfMemory(e))
            {
                // The workload and optimizer are disposed by now; collect whatever wrappers are left so the
                // next run starts with the memory back.
                GC.Collect();
                GC.WaitForPendingFinalizers();
                outcome = new Outcome(RunStatus.Oom, FirstLine(e.Message), "", "");
            }
            catch (Exception e) when (e is not CheckpointException and not Harness.Experiments.Data.DataException)
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
        // A completed run is never resumed; its checkpoint would only take disk space.
        if (outcome.Status == RunStatus.Completed) File.Delete(checkpoint);
        observer.RunFinished(run, outcome.Status, outcome.Message);
        _faults.AfterRun(run, outcome.Status);
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

    /// <summary>The per-run files a training appends to.</summary>
    private sealed record RunFiles(CsvFiles.Appender<StepRecord> Steps, CsvFiles.Appender<TimingRecord> Timing,
        CsvFiles.Appender<UpdateRecord> Updates, CsvFiles.Appender<EventRecord> Events);

    private Outcome Train(ExperimentConfig config, PlannedRun run, string checkpointPath, bool resume, RunFiles files,
        List<MetricRecord> metrics, CancellationToken cancel)
    {
        var (steps, timingRows) = (files.Steps, files.Timing);
        var training = config.Training;
        var workloadDescriptor = WorkloadCatalog.All.First(d => d.SpecType == config.Workload.GetType());
        var optimizerDescriptor = OptimizerCatalog.Find(run.Variant.Kind)!;
        var dataLocations = new Harness.Experiments.Data.DataLocations(
            string.IsNullOrEmpty(config.SourcePath) ? null : Path.GetDirectoryName(Path.GetFullPath(config.SourcePath)), cacheDirectory);
        using var workload = workloadDescriptor.Create(config.Workload, new WorkloadContext(run.Seed, device, ParameterDType(training.Dtype), training.BatchSize)
        {
            Data = dataLocations,
            ActivationCheckpointing = training.ActivationCheckpointing == true,
            ComputeDType = training.Dtype == TrainingDType.Mixed ? ScalarType.BFloat16 : null,
        });
        // Optimizers with randomness of their own (Q-GaLore's stochastic rounding) are seeded from the run.
        var optimizerOptions = run.Variant.Options is IRunSeeded seeded ? seeded.WithRunSeed(run.Seed) : run.Variant.Options;
        // Q-GaLore's INT8 weights: the model stores its matrices quantized before the optimizer sees the parameters.
        if (optimizerOptions is IQuantizedWeightOptions { StoredWeightFormat: { } weightFormat } && workload is IQuantizableMatrices quantizable)
            quantizable.StoreMatricesQuantized(weightFormat);
        IOptimizer Create(IReadOnlyList<NamedParameter> ps)
        {
            var created = optimizerDescriptor.Create(ps, optimizerOptions);
            if (created is Harness.Optimizers.Kernels.IFusedKernelUser fusedUser) fusedUser.AttachKernels(session.Kernels, session.KernelStatus);
            return created;
        }
        var ranks = collective is { WorldSize: > 1 } ? collective : null;
        if (ranks is not null) DataParallel.SyncParameters(workload.Parameters, ranks);
        using var optimizer = ranks is null ? Create(workload.Parameters)
            : new ShardedOptimizer(workload.Parameters, ShardPlanner.Plan(workload.Parameters, optimizerDescriptor.Sharding, ranks.WorldSize), ranks, Create);
        var clock = new SynchronizedClock(session);
        using var fused = run.Spec.StepMode == StepMode.FusedBackward
            ? new ForgeStepDriver(clock, training.FusedSlabRows ?? ForgeStepDriver.DefaultSlabRows, training.GradClip,
                training.FusedClip ?? FusedClipMode.None, session.Forge)
            {
                GradBuffers = training.GradBuffers ?? GradBuffersMode.Free,
                // The spec's training carries the entry's own forge_kernel, where it has one.
                Kernel = run.Spec.Training.ForgeKernel ?? ForgeKernelMode.Auto,
                State = run.Spec.Training.ForgeState,
            } : null;
        using var perLayer = run.Spec.StepMode == StepMode.PerLayer
            ? new PerLayerStepDriver(clock, training.GradClip) { GradBuffers = training.GradBuffers ?? GradBuffersMode.Free } : null;
        IStepDriver driver = ranks is not null ? new DataParallelStepDriver(ranks, new GradientBuckets(workload.Parameters), clock, training.GradClip, session.Memory)
            : (IStepDriver?)fused ?? (IStepDriver?)perLayer ?? new StandardStepDriver(clock, training.GradClip, session.Memory, training.GradBuffers ?? GradBuffersMode.Free);
        using var timeline = session.NewTimeline();
        var timing = new TimingMeter(workload.ThroughputUnit, timeline.Method);
        var memoryMeter = new MemoryMeter(session.Memory, session.ProbeStatus);
        var tokensPerStep = workload.TokensPerBatch * training.GradAccumulation;
        var paramCount = workload.Parameters.Sum(p => p.Value.numel());
        metrics.Add(new() { Name = MetricNames.ParamCount, Value = paramCount, Unit = "parameters" });
        var board = config.Logging.Tensorboard ? new TensorBoardSink(store.TensorBoardDir(config.Name, run.RunId)) : null;

        var evalSeconds = 0.0;
        EvalResult Evaluate()
        {
            var start = clock.Now();
            var result = workload.Evaluate(training.EvalBatches);
            evalSeconds += clock.Now() - start;
            return result;
        }

        EvalResult initial, lastEval;
        var trainSeconds = 0.0;
        double? lastLoss = null;
        var firstStep = 1;
        if (resume)
        {
            var p = CheckpointFile.Load(checkpointPath, run.RunId, run.Variant.Kind, workload, optimizer);
            initial = new EvalResult(p.InitialEvalLoss, p.InitialEvalPerplexity, p.InitialEvalAccuracy);
            lastEval = new EvalResult(p.LastEvalLoss, p.LastEvalPerplexity, p.LastEvalAccuracy);
            (trainSeconds, evalSeconds, lastLoss, firstStep) = (p.TrainSeconds, p.EvalSeconds, p.LastTrainLoss, p.Step + 1);
        }
        else
        {
            initial = lastEval = Evaluate();
            var first = Row(0, 0, config.Schedule.Multiplier(0, training.Steps) * run.Variant.Options.Lr, null, initial);
            steps.Append(first);
            board?.Step(first, null);
            timingRows.Append(new TimingRecord { Step = 0, ElapsedS = 0 });
        }
        metrics.Add(new() { Name = MetricNames.InitialEvalLoss, Value = initial.Loss, Unit = "nats" });
        var monitor = new LossMonitor(new LossMonitorSettings(training.SpikeFactor ?? TrainingConfig.DefaultSpikeFactor, training.DivergenceFactor,
            training.DivergencePatience ?? TrainingConfig.DefaultDivergencePatience), initial.Loss);
        using var telemetry = new UpdateTelemetry();
        if (resume)
        {
            // The kept rows (up to the checkpoint) rebuild the monitor's window and streak and the run's maximum ratio;
            // their events are in events.csv already.
            foreach (var row in store.ReadSteps(config.Name, run.RunId).Where(r => r.Step > 0))
                monitor.Observe(row.Step, row.TrainLoss, row.EvalLoss is { } e ? new EvalResult(e, null, null) : null, null, finalStep: false);
            telemetry.Seed(store.ReadUpdates(config.Name, run.RunId));
        }

        var status = RunStatus.Completed;
        string? message = null;
        var stepsDone = firstStep - 1;
        // Step boundaries are marks on the device's timeline, resolved only at window edges (logged,
        // evaluated and checkpointed steps), so throughput needs no synchronisation per step.
        var pending = new List<(int Step, int Start, int End, double? OptimizerSeconds)>();
        void ResolveWindow()
        {
            foreach (var (s, a, b, o) in pending)
            {
                var seconds = timeline.Seconds(a, b);
                trainSeconds += seconds;
                timing.OnStepEnd(new StepContext(s, seconds, o, tokensPerStep, s - firstStep >= training.TimingWarmupSteps));
            }
            pending.Clear();
            timeline.Reset();
        }

        for (var step = firstStep; step <= training.Steps; step++)
        {
            cancel.ThrowIfCancellationRequested();
            _faults.BeforeStep(run, step);
            var lr = run.Variant.Options.Lr * config.Schedule.Multiplier(step - 1, training.Steps);
            var logNow = step % training.LogEvery == 0 || step == training.Steps;
            var evalNow = (training.EvalEvery > 0 && step % training.EvalEvery == 0) || step == training.Steps;
            var checkpointNow = training.CheckpointEvery > 0 && step % training.CheckpointEvery == 0 && step < training.Steps;
            // The optimizer step is timed (synchronised around it) on logged steps only on CUDA; CPU ops are synchronous anyway.
            var timings = new StepTimings { MeasureOptimizer = logNow || !session.IsCuda };
            // Before the forward (FORGE updates weights during the backward) and before the memory peak is reset.
            if (logNow && training.UpdateTelemetry) telemetry.Before(workload.Parameters);
            session.Memory?.ResetPeak();
            var start = timeline.Mark();
            double? loss = null;
            (long Peak, long Reserved)? stepMemory = null;
            using (NewDisposeScope())
            {
                var batches = new List<Batch>(training.GradAccumulation);
                for (var i = 0; i < training.GradAccumulation; i++) batches.Add(workload.NextBatch(Split.Train));
                var lossTensor = driver.TrainStep(workload, optimizer, batches, lr, timings);
                pending.Add((step, start, timeline.Mark(), timings.MeasureOptimizer ? timings.OptimizerSeconds : null));
                if (session.Memory is { } memory)
                {
                    var peak = Math.Max(timings.PeakBeforeOptimizerBytes ?? 0, memory.PeakSinceReset);
                    memoryMeter.OnStep(step - firstStep >= training.TimingWarmupSteps, step == 1, timings.StepTransientBytes, peak, memory.Reserved);
                    stepMemory = (peak, memory.Reserved);
                }
                if (logNow) loss = lossTensor.item<float>();
            }
            stepsDone = step;
            if (logNow || evalNow || checkpointNow) ResolveWindow();
            if (logNow)
                foreach (var row in telemetry.After(step, lr))
                {
                    files.Updates.Append(row);
                    board?.Update(row);
                }
            if (logNow && stepMemory is { } m) board?.Memory(step, m.Peak, m.Reserved);

            EvalResult? eval = null;
            if (evalNow)
                eval = lastEval = Evaluate();
            var (events, why) = monitor.Observe(step, loss, eval, workload, finalStep: step == training.Steps);
            foreach (var e in events) files.Events.Append(e);
            if (why is not null)
            {
                status = RunStatus.Diverged;
                message = why;
            }
            if (loss is not null) lastLoss = loss;
            if (loss is not null || eval is not null)
            {
                var record = Row(step, step * tokensPerStep, lr, loss, eval);
                steps.Append(record);
                timingRows.Append(new TimingRecord { Step = step, ElapsedS = trainSeconds });
                // Progress display only: includes the warm-up; the reported metric excludes it.
                double? rate = trainSeconds > 0 ? (step - firstStep + 1) * tokensPerStep / trainSeconds : null;
                var remaining = TimeSpan.FromSeconds(trainSeconds / step * (training.Steps - step));
                observer.Progress(run, record, training.Steps, rate, remaining);
                board?.Step(record, rate);
            }
            if (status != RunStatus.Completed) break;
            if (checkpointNow)
            {
                var progress = new CheckpointProgress
                {
                    Step = step,
                    InitialEvalLoss = initial.Loss, InitialEvalPerplexity = initial.Perplexity, InitialEvalAccuracy = initial.Accuracy,
                    LastEvalLoss = lastEval.Loss, LastEvalPerplexity = lastEval.Perplexity, LastEvalAccuracy = lastEval.Accuracy,
                    LastTrainLoss = lastLoss, TrainSeconds = trainSeconds, EvalSeconds = evalSeconds,
                };
                var at = step;
                CheckpointFile.Write(checkpointPath, run.RunId, run.Variant.Kind, workload, optimizer, progress, () => _faults.MidCheckpointWrite(run, at));
            }
        }
        ResolveWindow();

        metrics.Add(new() { Name = MetricNames.StepsDone, Value = stepsDone, Unit = "steps" });
        metrics.Add(new() { Name = MetricNames.FinalTrainLoss, Value = lastLoss, Unit = "nats", Note = "mean over the last logged step's micro-batches" });
        metrics.Add(new() { Name = MetricNames.FinalEvalLoss, Value = status == RunStatus.Completed ? lastEval.Loss : null, Unit = "nats", Note = $"{training.EvalBatches} fixed validation batches" });
        metrics.Add(new() { Name = MetricNames.FinalEvalPerplexity, Value = status == RunStatus.Completed ? lastEval.Perplexity : null, Unit = "" });
        if (lastEval.Accuracy is not null)
            metrics.Add(new() { Name = MetricNames.FinalEvalAccuracy, Value = lastEval.Accuracy, Unit = "fraction" });
        var expectedStateBytes = optimizer switch
        {
            IOptimizerDiagnostics d => d.ExpectedStateBytes,
            ShardedOptimizer { Inner: IOptimizerDiagnostics d } => d.ExpectedStateBytes,
            ShardedOptimizer sharded => optimizerDescriptor.ExpectedStateBytes(sharded.OwnedParameters, run.Variant.Options),
            _ => optimizerDescriptor.ExpectedStateBytes(workload.Parameters, run.Variant.Options),
        };
        if (ranks is null)
            metrics.Add(new() { Name = MetricNames.StateBytes, Value = optimizer.StateBytes, Unit = "bytes", Note = "sum of state tensor bytes (M1)" });
        else
        {
            // Every rank reaches this point of every run, so the gathers pair up; rank 0's store keeps the rows.
            metrics.AddRange(DataParallel.PerRank(MetricNames.StateBytes, DataParallel.Gather(optimizer.StateBytes, ranks, device), "bytes",
                $"sum of state tensor bytes (M1), ZeRO-1 sharded by {optimizerDescriptor.Sharding}"));
            expectedStateBytes = (long)DataParallel.Gather(expectedStateBytes, ranks, device).Max();
        }
        metrics.Add(new()
        {
            Name = MetricNames.WeightBytes, Value = workload.Parameters.Sum(p => p.StoredBytes), Unit = "bytes",
            Note = "stored model weights: numel × element size of every parameter tensor (codes, scales and zero points of a quantized one)",
        });
        metrics.Add(new()
        {
            Name = MetricNames.ExpectedStateBytes,
            Value = expectedStateBytes,
            Unit = "bytes",
            Note = "closed-form formula of the optimizer",
        });
        metrics.AddRange(memoryMeter.Collect());
        // After a resume the step-time statistics cover the steps of this attempt only (warm-up excluded again).
        metrics.AddRange(timing.Collect());
        metrics.Add(new() { Name = MetricNames.TrainSeconds, Value = trainSeconds, Unit = "s", Note = "training steps only" });
        metrics.Add(new() { Name = MetricNames.MaxUpdateRatio, Value = telemetry.MaxRatio, Unit = "lr", Note = !training.UpdateTelemetry ? "training.update_telemetry: false" : telemetry.MaxRatio is null ? "no logged step with lr > 0" : $"max |delta p| / lr over logged steps: {telemetry.MaxWhere}" });
        metrics.Add(new() { Name = MetricNames.LossSpikes, Value = monitor.Spikes, Unit = "events", Note = $"events.csv: {EventKinds.TrainSpike}, {EventKinds.TrainAboveLimit}, {EventKinds.EvalAboveLimit}" });
        metrics.Add(new() { Name = MetricNames.EvalSeconds, Value = evalSeconds, Unit = "s", Note = "evaluation, excluded from throughput" });
        // A fused_backward run says which FORGE autograd function and which kernel carried its linear layers.
        var implementation = fused is null ? optimizer.Implementation : $"{optimizer.Implementation}; forge {fused.Route}, {fused.KernelUsed}";
        return new Outcome(status, message, implementation, optimizer.StateDtype);
    }

    /// <summary>
    /// Pure bf16 keeps parameters (and so the optimizer state) in bf16, as the GaLore paper's runs did; mixed keeps
    /// fp32 master weights and state and computes in bf16 (<see cref="WorkloadContext.ComputeDType"/>).
    /// </summary>
    private static ScalarType ParameterDType(TrainingDType dtype) => dtype switch
    {
        TrainingDType.Float32 or TrainingDType.Mixed => ScalarType.Float32,
        TrainingDType.Bfloat16 => ScalarType.BFloat16,
        _ => throw new NotSupportedException($"training.dtype {dtype} has no parameter dtype"),
    };

    private static StepRecord Row(int step, long tokens, double lr, double? loss, EvalResult? eval) => new()
    {
        Step = step,
        Tokens = tokens,
        Lr = lr,
        TrainLoss = loss,
        EvalLoss = eval?.Loss,
        EvalPerplexity = eval?.Perplexity,
        EvalAccuracy = eval?.Accuracy,
    };

    /// <summary>A crash mid-write leaves the checkpoint's temporary file behind; the checkpoint itself is intact.</summary>
    private static void DeleteStaleTemporaries(string checkpoint)
    {
        var dir = Path.GetDirectoryName(checkpoint)!;
        if (!Directory.Exists(dir)) return;
        foreach (var tmp in Directory.EnumerateFiles(dir, $".{Path.GetFileName(checkpoint)}.*.tmp")) File.Delete(tmp);
    }

    private static bool IsOutOfMemory(Exception e) =>
        e is OutOfMemoryException || e.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase);

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();
}
