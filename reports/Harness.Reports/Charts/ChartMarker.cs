namespace Harness.Reports.Charts;

/// <summary>A point event drawn on a line chart (a loss spike from <c>events.csv</c>), in the chart's coordinates.</summary>
/// <param name="Kind">The event kind (<c>train_spike</c>, <c>eval_above_limit</c>, …).</param>
/// <param name="Label">Which run, what and where, for the notes.</param>
public sealed record ChartMarker(double X, double Y, string Optimizer, string Kind, string Label);
