using System.Text.Json.Nodes;
using Harness.Results;

namespace Harness.Reports.Data;

/// <summary>One run as stored on disk: its summary row, its manifest (null when missing) and its logged steps.</summary>
public sealed record RunData(SummaryRow Summary, RunManifest? Manifest, IReadOnlyList<StepRecord> Steps)
{
    public const string CompletedStatus = "completed";

    public bool Completed => Summary.Status == CompletedStatus;

    /// <summary>Training seconds at each logged step (from <c>timing.csv</c>, which keeps <c>steps.csv</c> deterministic).</summary>
    public IReadOnlyDictionary<int, double> Elapsed { get; init; } = new Dictionary<int, double>();

    /// <summary>The run's loss events (<c>events.csv</c>; none for runs from before it was written).</summary>
    public IReadOnlyList<EventRecord> Events { get; init; } = [];

    /// <summary>Training seconds at a logged step, NaN when not recorded.</summary>
    public double ElapsedAt(int step) => Elapsed.TryGetValue(step, out var e) ? e : double.NaN;
    public string Label => Summary.Label;
    public string Optimizer => Summary.Optimizer;

    /// <summary>
    /// The configured (peak) learning rate: the manifest spec's <c>optimizer.lr</c>, else an <c>lr=</c> sweep
    /// value from the summary; null when neither says.
    /// </summary>
    public double? LearningRate
    {
        get
        {
            if (Manifest?.Spec["optimizer"] is JsonObject o && o["lr"] is JsonValue v && v.TryGetValue<double>(out var lr)) return lr;
            var sweep = Summary.Sweep.Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(kv => kv.Split('=', 2)).FirstOrDefault(kv => kv.Length == 2 && kv[0] == "lr");
            return sweep is not null && double.TryParse(sweep[1], System.Globalization.NumberStyles.Float,
                System.Globalization.CultureInfo.InvariantCulture, out var s) ? s : null;
        }
    }

    /// <summary>Bytes per element of the training dtype from the spec (<c>training.dtype</c>); null when unknown.</summary>
    public int? ParamElementBytes => (Manifest?.Spec["training"] as JsonObject)?["dtype"]?.GetValue<string>() switch
    {
        "float32" => 4,
        "float64" => 8,
        "bfloat16" or "float16" => 2,
        _ => null,
    };

    /// <summary>The step mode from the spec (<c>standard</c> or <c>fused_backward</c>); empty when unknown.</summary>
    public string StepMode => Manifest?.Spec["step_mode"]?.GetValue<string>() ?? "";
}
