using System.Text.Json;
using System.Text.Json.Nodes;
using Harness.Reports.Data;
using Harness.Reports.Tables;

namespace Harness.Reports.Documents;

/// <summary>The parts of a report as plain data (table cells, key–value lists), shared by both documents.</summary>
public static class ReportSections
{
    public static readonly string[] TableHeader =
    [
        "configuration", "runs", "lr", "final eval loss", "× AdamW", "perplexity", "final train loss", "params",
        "optimizer state", "state × AdamW", "tokens/s", "tokens/s × AdamW", "step ms p50", "optimizer ms p50", "implementation",
    ];

    /// <summary>One row of cells per configuration, mean ± sample std over completed seeds.</summary>
    public static IReadOnlyList<string[]> TableCells(IReadOnlyList<ReportRow> rows) => rows.Select(r => new[]
    {
        r.Label + (r.Baseline ? " (baseline)" : ""),
        $"{r.Completed}/{r.Runs}" + (r.Completed < r.Runs ? $" ⚠ {r.Statuses}" : ""),
        ReportFormat.Number(r.LearningRate, "G4"),
        ReportFormat.MeanStd(r.FinalEvalLossMean, r.FinalEvalLossStd, "F4"),
        ReportFormat.Ratio(r.FinalEvalLossVsAdamw),
        ReportFormat.MeanStd(r.FinalEvalPerplexityMean, r.FinalEvalPerplexityStd, "F2"),
        ReportFormat.MeanStd(r.FinalTrainLossMean, r.FinalTrainLossStd, "F4"),
        ReportFormat.Number(r.ParamCount, "N0"),
        ReportFormat.Bytes(r.StateBytesMean),
        ReportFormat.Ratio(r.StateBytesVsAdamw),
        ReportFormat.MeanStd(r.TokensPerSMean, r.TokensPerSStd, "N0"),
        ReportFormat.Ratio(r.TokensPerSVsAdamw),
        ReportFormat.Number(r.StepMsP50Mean, "F1"),
        ReportFormat.MeanStd(r.OptimizerStepMsP50Mean, r.OptimizerStepMsP50Std, "F2"),
        r.Implementation + (r.StateDtype.Length > 0 ? $" ({r.StateDtype} state)" : ""),
    }).ToList();

    /// <summary>Device, software versions and commit, each with every distinct value the manifests recorded.</summary>
    public static IReadOnlyList<(string Key, string Value)> Environment(ResultSet results)
    {
        var p = results.Runs.Select(r => r.Manifest?.Provenance).OfType<Harness.Results.Provenance>().ToList();
        string All(Func<Harness.Results.Provenance, string> f) => p.Count == 0 ? "unknown (no manifests)" : string.Join(", ", p.Select(f).Distinct());
        return
        [
            ("device", All(x => $"{x.Device} ({x.DeviceName})")),
            ("operating system", All(x => x.OperatingSystem)),
            ("CPU threads", All(x => x.CpuThreads.ToString(System.Globalization.CultureInfo.InvariantCulture))),
            (".NET", All(x => x.DotnetVersion)),
            ("TorchSharp / libtorch", All(x => $"{x.TorchSharpVersion} / {x.LibTorchVersion}")),
            ("commit", All(x => x.GitCommit + (x.GitDirty ? " (uncommitted changes)" : ""))),
            ("config file", string.Join(", ", results.Runs.Select(r => r.Manifest?.ConfigPath).OfType<string>().Where(s => s.Length > 0).Distinct())),
            ("runs", $"{results.Runs.Count} ({string.Join(", ", results.Runs.GroupBy(r => r.Summary.Status).Select(g => $"{g.Count()} {g.Key}"))})"),
        ];
    }

    /// <summary>The shared part of the run spec (everything but the optimizer and the seed), indented JSON.</summary>
    public static string Config(ResultSet results)
    {
        if (results.Runs.Select(r => r.Manifest).FirstOrDefault(m => m is not null) is not { } m) return "(no manifest found)";
        var spec = m.Spec.DeepClone().AsObject();
        spec.Remove("optimizer");
        spec.Remove("optimizer_kind");
        spec.Remove("seed");
        return spec.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    /// <summary>Each configuration's optimizer options (compact JSON) and the seeds that ran.</summary>
    public static IReadOnlyList<(string Label, string Options, string Seeds)> Optimizers(ResultSet results) =>
        results.Runs.GroupBy(r => r.Label, StringComparer.Ordinal).Select(g =>
        {
            var options = g.Select(r => r.Manifest?.Spec["optimizer"]).OfType<JsonNode>().FirstOrDefault();
            return (g.Key, $"{g.First().Optimizer} {options?.ToJsonString() ?? "(no manifest)"}",
                string.Join(", ", g.Select(r => r.Summary.Seed).Order()));
        }).ToList();

    /// <summary>Runs that did not complete: label, seed, status, message, run id.</summary>
    public static IReadOnlyList<string[]> Incomplete(ResultSet results) =>
        results.Runs.Where(r => !r.Completed).Select(r => new[]
        {
            r.Label, r.Summary.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture), r.Summary.Status,
            r.Summary.Message.Length > 0 ? r.Summary.Message : "—", r.Summary.RunId,
        }).ToList();
}
