using System.Globalization;
using System.Text;

namespace Harness.Core.Traces;

/// <summary>
/// The result of checking one optimizer key of a golden manifest: every (checkpoint, parameter)
/// error, the worst one, the first one over tolerance, and a status. Data only; the CLI decides how
/// to show it (<see cref="ToTable"/> is the plain-text form).
/// </summary>
public sealed record TraceReport(
    string OptimizerKey,
    string Kind,
    TraceStatus Status,
    double Tolerance,
    IReadOnlyList<TraceError> Errors,
    string? Message = null,
    IReadOnlyList<TraceDiagnostic>? Diagnostics = null)
{
    public bool Passed => Status == TraceStatus.Passed;

    /// <summary>The largest error (a NaN counts as the largest), or null when nothing was compared.</summary>
    public TraceError? Worst =>
        Errors.Count == 0 ? null : Errors.MaxBy(e => double.IsNaN(e.Error) ? double.PositiveInfinity : e.Error);

    /// <summary>The first (step, parameter) over tolerance, in step order then manifest order: where to start debugging.</summary>
    public TraceError? FirstFailure => Errors.FirstOrDefault(e => !e.Within(Tolerance));

    /// <summary>A plain-text table: one row per parameter, one column per checkpoint, then the verdict lines.</summary>
    public string ToTable()
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(inv, $"golden trace '{OptimizerKey}' (kind {Kind}): {Status}, tolerance {Tolerance:0.#e0}").AppendLine();
        if (Message is not null) sb.Append("  ").AppendLine(Message);
        foreach (var d in Diagnostics ?? []) sb.Append(inv, $"  {d.Name}: {(d.Passed ? "equal" : "DIFFERENT")} ({d.Detail})").AppendLine();
        if (Errors.Count == 0) return sb.ToString();

        var steps = Errors.Select(e => e.Step).Distinct().Order().ToList();
        var names = Errors.Select(e => e.Parameter).Distinct().ToList();
        var nameWidth = Math.Max("parameter".Length, names.Max(n => n.Length));
        const int cellWidth = 11;
        var byKey = Errors.ToDictionary(e => (e.Step, e.Parameter));

        sb.Append("parameter".PadRight(nameWidth));
        foreach (var s in steps) sb.Append(' ').Append(("step " + s.ToString(inv)).PadLeft(cellWidth));
        sb.AppendLine();
        foreach (var n in names)
        {
            sb.Append(n.PadRight(nameWidth));
            foreach (var s in steps)
            {
                var cell = byKey.TryGetValue((s, n), out var e) ? Format(e) : "-";
                sb.Append(' ').Append(cell.PadLeft(cellWidth));
            }
            sb.AppendLine();
        }
        sb.AppendLine("(* over tolerance; a = absolute error because the reference did not move)");
        if (Worst is { } w)
            sb.Append(inv, $"worst: {w.Error:0.000e0} at step {w.Step}, {w.Parameter}").AppendLine();
        if (FirstFailure is { } f)
            sb.Append(inv, $"first over tolerance: step {f.Step}, {f.Parameter} ({f.Error:0.000e0})")
                .Append(Diagnostics?.Any(d => d.Passed && d.Name == SvdSignSearch.DiagnosticName(f.Parameter)) == true ? "; explained by SVD sign choice (svd_signs above)" : "")
                .AppendLine();
        return sb.ToString();

        string Format(TraceError e) =>
            e.Error.ToString("0.00e0", inv) + (e.Relative ? "" : "a") + (e.Within(Tolerance) ? "" : "*");
    }
}
