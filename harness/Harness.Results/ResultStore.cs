using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Harness.Results;

/// <summary>
/// The on-disk layout of results: <c>&lt;root&gt;/&lt;experiment&gt;/&lt;run-id&gt;/{manifest.json, steps.csv,
/// metrics.csv}</c> and <c>&lt;root&gt;/&lt;experiment&gt;/summary.csv</c>. Reports read only these files.
/// </summary>
public sealed class ResultStore(string root)
{
    public const string ManifestFile = "manifest.json";
    public const string StepsFile = "steps.csv";
    public const string MetricsFile = "metrics.csv";
    public const string SummaryFile = "summary.csv";
    public const string TimingFile = "timing.csv";
    public const string UpdatesFile = "updates.csv";
    public const string EventsFile = "events.csv";
    public const string CheckpointFile = "checkpoint.safetensors";

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        WriteIndented = true,
    };

    public string Root { get; } = Path.GetFullPath(root);

    public string ExperimentDir(string experiment) => Path.Combine(Root, experiment);
    public string RunDir(string experiment, string runId) => Path.Combine(ExperimentDir(experiment), runId);
    /// <summary>A run's TensorBoard log directory (outside its run folder, so one <c>--logdir</c> shows every run).</summary>
    public string TensorBoardDir(string experiment, string runId) => Path.Combine(ExperimentDir(experiment), "tensorboard", runId);
    public string SummaryPath(string experiment) => Path.Combine(ExperimentDir(experiment), SummaryFile);

    public void WriteManifest(RunManifest manifest) =>
        AtomicFile.WriteText(Path.Combine(RunDir(manifest.Experiment, manifest.RunId), ManifestFile),
            JsonSerializer.Serialize(manifest, Json));

    /// <summary>The manifest of a run, or null when the run never started.</summary>
    public RunManifest? TryReadManifest(string experiment, string runId) =>
        ReadManifestFile(Path.Combine(RunDir(experiment, runId), ManifestFile));

    public static RunManifest? ReadManifestFile(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            return JsonSerializer.Deserialize<RunManifest>(File.ReadAllText(path), Json)
                ?? throw new ResultFormatException(path, "empty manifest");
        }
        catch (JsonException e)
        {
            throw new ResultFormatException(path, $"not a valid manifest ({e.Message.Split('.')[0]})", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or DecoderFallbackException or InvalidOperationException)
        {
            throw new ResultFormatException(path, $"cannot be read as a manifest ({e.Message.Split('\n')[0]})", e);
        }
    }

    public CsvFiles.Appender<StepRecord> OpenSteps(string experiment, string runId, bool truncate) =>
        new(Path.Combine(RunDir(experiment, runId), StepsFile), truncate);

    public CsvFiles.Appender<TimingRecord> OpenTiming(string experiment, string runId, bool truncate) =>
        new(Path.Combine(RunDir(experiment, runId), TimingFile), truncate);

    public IReadOnlyList<TimingRecord> ReadTiming(string experiment, string runId) =>
        CsvFiles.ReadAll<TimingRecord>(Path.Combine(RunDir(experiment, runId), TimingFile));

    public CsvFiles.Appender<UpdateRecord> OpenUpdates(string experiment, string runId, bool truncate) =>
        new(Path.Combine(RunDir(experiment, runId), UpdatesFile), truncate);

    public CsvFiles.Appender<EventRecord> OpenEvents(string experiment, string runId, bool truncate) =>
        new(Path.Combine(RunDir(experiment, runId), EventsFile), truncate);

    /// <summary>The rows of <c>updates.csv</c>; empty when the run has none.</summary>
    public IReadOnlyList<UpdateRecord> ReadUpdates(string experiment, string runId) => ReadIfExists<UpdateRecord>(experiment, runId, UpdatesFile);

    /// <summary>The rows of <c>events.csv</c>; empty when the run has none.</summary>
    public IReadOnlyList<EventRecord> ReadEvents(string experiment, string runId) => ReadIfExists<EventRecord>(experiment, runId, EventsFile);

    private IReadOnlyList<T> ReadIfExists<T>(string experiment, string runId, string file)
    {
        var path = Path.Combine(RunDir(experiment, runId), file);
        return File.Exists(path) ? CsvFiles.ReadAll<T>(path) : [];
    }

    public string CheckpointPath(string experiment, string runId) => Path.Combine(RunDir(experiment, runId), CheckpointFile);

    /// <summary>
    /// Drops the <c>steps.csv</c>, <c>timing.csv</c>, <c>updates.csv</c> and <c>events.csv</c> rows after <paramref name="step"/> (written after the
    /// checkpoint a run resumes from), so the resumed run appends exactly what an uninterrupted one would.
    /// </summary>
    public void TruncateRunFiles(string experiment, string runId, int step)
    {
        CsvFiles.Truncate<StepRecord>(Path.Combine(RunDir(experiment, runId), StepsFile), r => r.Step <= step);
        CsvFiles.Truncate<TimingRecord>(Path.Combine(RunDir(experiment, runId), TimingFile), r => r.Step <= step);
        CsvFiles.Truncate<UpdateRecord>(Path.Combine(RunDir(experiment, runId), UpdatesFile), r => r.Step <= step);
        CsvFiles.Truncate<EventRecord>(Path.Combine(RunDir(experiment, runId), EventsFile), r => r.Step <= step);
    }

    /// <summary>Takes the experiment folder's lock for this process; see <see cref="ExperimentLock"/>.</summary>
    public ExperimentLock Lock(string experiment) => ExperimentLock.Acquire(ExperimentDir(experiment));

    public IReadOnlyList<StepRecord> ReadSteps(string experiment, string runId) =>
        CsvFiles.ReadAll<StepRecord>(Path.Combine(RunDir(experiment, runId), StepsFile));

    public void WriteMetrics(string experiment, string runId, IEnumerable<MetricRecord> metrics) =>
        CsvFiles.WriteAll(Path.Combine(RunDir(experiment, runId), MetricsFile), metrics);

    public IReadOnlyList<MetricRecord> ReadMetrics(string experiment, string runId)
    {
        var path = Path.Combine(RunDir(experiment, runId), MetricsFile);
        return File.Exists(path) ? CsvFiles.ReadAll<MetricRecord>(path) : [];
    }

    /// <summary>
    /// Rebuilds <c>summary.csv</c> from every run folder of the experiment (so it always agrees with the
    /// manifests), writes it atomically and returns its rows, ordered by label then seed.
    /// </summary>
    public IReadOnlyList<SummaryRow> RebuildSummary(string experiment)
    {
        var dir = ExperimentDir(experiment);
        var rows = new List<SummaryRow>();
        if (Directory.Exists(dir))
            foreach (var runDir in Directory.EnumerateDirectories(dir).Order(StringComparer.Ordinal))
            {
                var manifest = ReadManifestFile(Path.Combine(runDir, ManifestFile));
                if (manifest is null) continue;
                rows.Add(ToSummary(manifest, ReadMetrics(experiment, manifest.RunId)));
            }
        var ordered = rows.OrderBy(r => r.Label, StringComparer.Ordinal).ThenBy(r => r.Seed).ToList();
        CsvFiles.WriteAll(SummaryPath(experiment), ordered);
        return ordered;
    }

    public static IReadOnlyList<SummaryRow> ReadSummary(string path) =>
        File.Exists(path) ? CsvFiles.ReadAll<SummaryRow>(path) : throw new ResultFormatException(path, "no such file");

    private static SummaryRow ToSummary(RunManifest m, IReadOnlyList<MetricRecord> metrics)
    {
        double? Metric(string name) => metrics.FirstOrDefault(x => x.Name == name)?.Value;
        long? Bytes(string name) => Metric(name) is { } v ? (long)v : null;
        return new SummaryRow
        {
            RunId = m.RunId,
            Experiment = m.Experiment,
            Optimizer = m.Optimizer,
            Label = m.Label,
            Seed = m.Seed,
            Status = m.Status.ToString().ToLowerInvariant(),
            Steps = (int)(Metric(MetricNames.StepsDone) ?? 0),
            FinalTrainLoss = Metric(MetricNames.FinalTrainLoss),
            FinalEvalLoss = Metric(MetricNames.FinalEvalLoss),
            InitialEvalLoss = Metric(MetricNames.InitialEvalLoss),
            FinalEvalPerplexity = Metric(MetricNames.FinalEvalPerplexity),
            StateBytes = Bytes(MetricNames.StateBytes),
            WeightBytes = Bytes(MetricNames.WeightBytes),
            StepTransientBytes = Bytes(MetricNames.StepTransientBytes),
            TrainStepPeakBytes = Bytes(MetricNames.TrainStepPeakBytes),
            ReservedBytes = Bytes(MetricNames.ReservedBytes),
            TokensPerS = Metric(MetricNames.TokensPerS),
            StepMsP50 = Metric(MetricNames.StepMsP50),
            StepMsP90 = Metric(MetricNames.StepMsP90),
            OptimizerStepMsP50 = Metric(MetricNames.OptimizerStepMsP50),
            ParamCount = Bytes(MetricNames.ParamCount),
            MaxUpdateRatio = Metric(MetricNames.MaxUpdateRatio),
            LossSpikes = Metric(MetricNames.LossSpikes) is { } spikes ? (int)spikes : null,
            Implementation = m.Implementation,
            StateDtype = m.StateDtype,
            Device = m.Provenance.Device,
            Sweep = string.Join(" ", m.SweepValues.Select(kv => $"{kv.Key}={kv.Value}")),
            Message = m.Message ?? "",
        };
    }
}
