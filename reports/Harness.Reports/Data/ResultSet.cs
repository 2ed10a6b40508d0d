using Harness.Results;

namespace Harness.Reports.Data;

/// <summary>Every run of one experiment folder, read from its files only.</summary>
public sealed record ResultSet(string Experiment, IReadOnlyList<RunData> Runs)
{
    /// <summary>
    /// Reads <c>summary.csv</c> and, for each row, the run folder's <c>manifest.json</c>, <c>steps.csv</c>, <c>timing.csv</c> and <c>events.csv</c>
    /// when present (a run that never logged a step has none; it still appears in the tables).
    /// </summary>
    public static ResultSet Load(string experimentDir)
    {
        var summary = ResultStore.ReadSummary(Path.Combine(experimentDir, ResultStore.SummaryFile));
        var runs = summary.Select(row =>
        {
            var dir = Path.Combine(experimentDir, row.RunId);
            var manifest = ResultStore.ReadManifestFile(Path.Combine(dir, ResultStore.ManifestFile));
            var stepsPath = Path.Combine(dir, ResultStore.StepsFile);
            var steps = File.Exists(stepsPath) ? CsvFiles.ReadAll<StepRecord>(stepsPath) : [];
            var timingPath = Path.Combine(dir, ResultStore.TimingFile);
            var elapsed = File.Exists(timingPath)
                ? CsvFiles.ReadAll<TimingRecord>(timingPath).GroupBy(t => t.Step).ToDictionary(g => g.Key, g => g.Last().ElapsedS)
                : new Dictionary<int, double>();
            var eventsPath = Path.Combine(dir, ResultStore.EventsFile);
            var events = File.Exists(eventsPath) ? CsvFiles.ReadAll<EventRecord>(eventsPath) : [];
            return new RunData(row, manifest, steps) { Elapsed = elapsed, Events = events };
        }).ToList();
        var name = summary.FirstOrDefault()?.Experiment is { Length: > 0 } e ? e : Path.GetFileName(Path.GetFullPath(experimentDir).TrimEnd('/'));
        return new ResultSet(name, runs);
    }
}
