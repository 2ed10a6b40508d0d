namespace Harness.Core.Traces;

/// <summary>
/// One comparison of a data-dependent choice of the optimizer with what the reference recorded (e.g. Gefen's
/// block periods against the manifest's <c>gefen_periods</c>, its codebook against <c>gefen.codebook</c>).
/// </summary>
/// <param name="Name">The diagnostic's name (manifest field or reference tensor name).</param>
/// <param name="Passed">Whether ours equals the reference (tensors: within <see cref="TraceChecker.DiagnosticTensorTolerance"/>).</param>
/// <param name="Detail">What was compared and, on a mismatch, the first difference.</param>
public sealed record TraceDiagnostic(string Name, bool Passed, string Detail);
