namespace Harness.Optimizers;

/// <summary>
/// Options whose default differs from what the reference code computes (an optimizer that follows the
/// paper by default and offers the released code's behaviour as a named option). The golden-trace
/// checker binds a trace's hyperparameters onto <see cref="ReferenceTraceDefaults"/> instead of the plain
/// defaults, so the trace is compared with the code that recorded it; explicit hyperparameters in the
/// manifest still win.
/// </summary>
public interface IReferenceTraceOptions
{
    /// <summary>These options switched to the reference code's semantics.</summary>
    OptimizerOptions ReferenceTraceDefaults { get; }
}
