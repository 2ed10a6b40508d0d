using System.Text.Json.Nodes;
using Harness.Results;
using Harness.Reports.Data;

namespace Harness.Tests.Reports;

/// <summary>Fixed result sets for the report tests: every number is chosen so the expected outputs can be worked out by hand.</summary>
internal static class ReportFixtures
{
    public static readonly Provenance Cpu = new("abc1234", false, "10.0.0", "0.107.0", "2.10.0", "cpu", "Test CPU", "Linux", 2);

    public static JsonObject Spec(double lr, string optimizerKind) => new()
    {
        ["experiment"] = "fixture", ["device"] = "cpu", ["step_mode"] = "standard",
        ["training"] = new JsonObject { ["dtype"] = "float32", ["steps"] = 20 },
        ["optimizer_kind"] = optimizerKind, ["optimizer"] = new JsonObject { ["lr"] = lr }, ["seed"] = 0,
    };

    /// <summary>
    /// A run with steps 0, 10, 20 (tokens = 100 per step, 0.5 s per step); losses are <paramref name="start"/>,
    /// start − drop, start − 2·drop for train and eval alike.
    /// </summary>
    public static RunData Run(string label, string optimizer, int seed, double lr, double start, double drop,
        long? state, double? tps, string status = "completed", double? optMs = 1.0)
    {
        var steps = Enumerable.Range(0, 3).Select(k => new StepRecord
        {
            Step = 10 * k, Tokens = 1000 * k, Lr = lr,
            TrainLoss = k == 0 ? null : start - k * drop,
            EvalLoss = status == "diverged" && k == 2 ? double.NaN : start - k * drop,
        }).ToList();
        var completed = status == "completed";
        var summary = new SummaryRow
        {
            RunId = $"{label.Replace(' ', '_')}-{seed}", Experiment = "fixture", Optimizer = optimizer, Label = label, Seed = seed, Status = status,
            Steps = completed ? 20 : 15,
            FinalTrainLoss = completed ? start - 2 * drop : null, FinalEvalLoss = completed ? start - 2 * drop : null,
            FinalEvalPerplexity = completed ? Math.Exp(start - 2 * drop) : null,
            StateBytes = completed ? state : null, TokensPerS = completed ? tps : null, OptimizerStepMsP50 = completed ? optMs : null,
            StepMsP50 = completed ? 10 : null, ParamCount = 1000, Implementation = "tensor-ops", StateDtype = "float32", Device = "cpu",
            Message = status == "diverged" ? "loss is NaN at step 15" : "",
        };
        var manifest = new RunManifest
        {
            RunId = summary.RunId, Experiment = "fixture", Optimizer = optimizer, Label = label, Seed = seed,
            Status = Enum.Parse<RunStatus>(status, ignoreCase: true), Spec = Spec(lr, optimizer), Provenance = Cpu,
            StartedUtc = DateTimeOffset.UnixEpoch, Implementation = "tensor-ops", StateDtype = "float32",
        };
        return new RunData(summary, manifest, steps) { Elapsed = steps.ToDictionary(x => x.Step, x => 0.5 * x.Step) };
    }

    /// <summary>AdamW (3 seeds, final eval loss 3.0/3.1/3.2, state 8000 B) and Lion (3 seeds, 2.0/2.1/2.2, state 4000 B), Lion seed 3 diverged.</summary>
    public static IReadOnlyList<RunData> TwoOptimizers() =>
    [
        Run("adamw", "adamw", 0, 1e-3, 4.0, 0.5, 8000, 1000),
        Run("adamw", "adamw", 1, 1e-3, 4.1, 0.5, 8000, 1010),
        Run("adamw", "adamw", 2, 1e-3, 4.2, 0.5, 8000, 990),
        Run("lion", "lion", 0, 1e-4, 3.0, 0.5, 4000, 1500),
        Run("lion", "lion", 1, 1e-4, 3.1, 0.5, 4000, 1490),
        Run("lion", "lion", 2, 1e-4, 3.2, 0.5, 4000, 1510),
        Run("lion", "lion", 3, 1e-4, 3.3, 0.5, 4000, 1500, status: "diverged"),
    ];

    /// <summary>Writes the runs as a real results folder (manifests, steps.csv, summary.csv) and returns its path.</summary>
    public static string WriteExperiment(IReadOnlyList<RunData> runs)
    {
        var root = Path.Combine(Path.GetTempPath(), "harness-report-" + Guid.NewGuid().ToString("N")[..8]);
        var store = new ResultStore(root);
        foreach (var run in runs)
        {
            store.WriteManifest(run.Manifest!);
            using (var steps = store.OpenSteps("fixture", run.Summary.RunId, truncate: true))
                foreach (var s in run.Steps) steps.Append(s);
            using (var timing = store.OpenTiming("fixture", run.Summary.RunId, truncate: true))
                foreach (var s in run.Steps) timing.Append(new TimingRecord { Step = s.Step, ElapsedS = run.ElapsedAt(s.Step) });
            store.WriteMetrics("fixture", run.Summary.RunId,
            [
                new MetricRecord { Name = MetricNames.ParamCount, Value = run.Summary.ParamCount },
                new MetricRecord { Name = MetricNames.FinalEvalLoss, Value = run.Summary.FinalEvalLoss },
                new MetricRecord { Name = MetricNames.FinalTrainLoss, Value = run.Summary.FinalTrainLoss },
                new MetricRecord { Name = MetricNames.StateBytes, Value = run.Summary.StateBytes },
                new MetricRecord { Name = MetricNames.TokensPerS, Value = run.Summary.TokensPerS },
                new MetricRecord { Name = MetricNames.OptimizerStepMsP50, Value = run.Summary.OptimizerStepMsP50 },
            ]);
        }
        store.RebuildSummary("fixture");
        return store.ExperimentDir("fixture");
    }
}
