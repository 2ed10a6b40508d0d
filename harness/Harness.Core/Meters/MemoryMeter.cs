using Harness.Core.Devices;
using Harness.Results;

namespace Harness.Core.Meters;

/// <summary>
/// M2 (optimizer-step transient), M3 (training-step peak) and M4 (reserved), per the architecture's
/// measurement table: the maxima over the timed (steady-state) steps, and the first step's transient on
/// its own (lazy state creation makes it special). Without a probe every value is empty, with the reason.
/// </summary>
public sealed class MemoryMeter(IDeviceMemoryProbe? probe, string unavailableReason)
{
    private long? _transient, _peak, _reserved, _firstTransient;

    public void OnStep(bool timed, bool first, long? transient, long? peak, long? reserved)
    {
        if (first) _firstTransient = transient;
        if (!timed) return;
        _transient = Max(_transient, transient);
        _peak = Max(_peak, peak);
        _reserved = Max(_reserved, reserved);
    }

    private static long? Max(long? a, long? b) => a is null ? b : b is null ? a : Math.Max(a.Value, b.Value);

    public IEnumerable<MetricRecord> Collect()
    {
        var note = probe is null ? unavailableReason : $"{probe.Level}; max over timed steps";
        yield return new() { Name = MetricNames.StepTransientBytes, Value = _transient, Unit = "bytes", Note = note };
        yield return new() { Name = MetricNames.TrainStepPeakBytes, Value = _peak, Unit = "bytes", Note = note };
        yield return new() { Name = MetricNames.ReservedBytes, Value = _reserved, Unit = "bytes", Note = note };
        yield return new() { Name = MetricNames.FirstStepTransientBytes, Value = _firstTransient, Unit = "bytes", Note = probe is null ? unavailableReason : $"{probe.Level}; step 1" };
    }
}
