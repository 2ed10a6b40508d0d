namespace Harness.Results;

/// <summary>Where a run stands. Stored in lower case in manifests and summaries.</summary>
public enum RunStatus
{
    Running,
    Completed,
    Skipped,
    Diverged,
    Oom,
    Failed,
}
