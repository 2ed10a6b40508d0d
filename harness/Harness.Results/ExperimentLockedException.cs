namespace Harness.Results;

/// <summary>The experiment folder is in use by another harness process (or another sweep in this one).</summary>
public sealed class ExperimentLockedException(string experimentDir, string lockPath, Exception? inner = null)
    : Exception($"{experimentDir} is in use by another harness process (lock {lockPath} is held); wait for it to finish or use another --out", inner)
{
    public string LockPath { get; } = lockPath;
}
