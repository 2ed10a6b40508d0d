namespace Harness.Core.Traces;

/// <summary>
/// The error of one parameter after <paramref name="Step"/> steps:
/// <c>‖p_ours − p_ref‖ / ‖p_ref − p0‖</c>, or the absolute <c>‖p_ours − p_ref‖</c> when the reference
/// did not move (<paramref name="Relative"/> false), since a ratio over zero says nothing.
/// </summary>
/// <param name="Step">Steps taken (the 1-based checkpoint).</param>
/// <param name="Parameter">The parameter name.</param>
/// <param name="Error">The error as defined above; NaN when ours is not finite.</param>
/// <param name="ReferenceMovement"><c>‖p_ref − p0‖</c>.</param>
/// <param name="Relative">Whether <paramref name="Error"/> is relative to the reference's movement.</param>
public sealed record TraceError(int Step, string Parameter, double Error, double ReferenceMovement, bool Relative)
{
    /// <summary>Within tolerance; NaN never is.</summary>
    public bool Within(double tolerance) => Error <= tolerance;
}
