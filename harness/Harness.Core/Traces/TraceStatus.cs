namespace Harness.Core.Traces;

/// <summary>The outcome of checking one optimizer against its golden trace.</summary>
public enum TraceStatus
{
    /// <summary>Every parameter at every checkpoint is within tolerance.</summary>
    Passed,
    /// <summary>At least one parameter at one checkpoint exceeds the tolerance (or is not finite).</summary>
    Failed,
    /// <summary>The manifest's kind has no implementation in the catalog yet.</summary>
    NotImplemented,
}
