namespace Harness.Results;

/// <summary>
/// One row of <c>events.csv</c>: a loss read that crossed a threshold (see <c>Harness.Core.Running.LossMonitor</c>), or
/// the read that ended the run as diverged. Appended and flushed as it happens.
/// </summary>
public sealed record EventRecord
{
    public int Step { get; init; }
    /// <summary>One of <see cref="EventKinds"/>.</summary>
    public string Kind { get; init; } = "";
    /// <summary>Which loss was read: <c>train</c>, <c>eval</c>, or empty (a non-finite parameter).</summary>
    public string Loss { get; init; } = "";
    /// <summary>The loss that was read (NaN where none was).</summary>
    public double Value { get; init; }
    /// <summary>The threshold it was compared with (NaN where none applies, e.g. a non-finite loss).</summary>
    public double Threshold { get; init; }
    public string Detail { get; init; } = "";
}
