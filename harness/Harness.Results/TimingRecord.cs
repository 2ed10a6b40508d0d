namespace Harness.Results;

/// <summary>
/// One row of <c>timing.csv</c>, written beside each <c>steps.csv</c> row with the same step: the wall-clock
/// part, kept apart so that <c>steps.csv</c> is bit-identical across reruns.
/// </summary>
public sealed record TimingRecord
{
    public int Step { get; init; }
    /// <summary>Training time so far (evaluation excluded), seconds. After a resume it continues from the checkpoint's total.</summary>
    public double ElapsedS { get; init; }
}
