namespace Harness.Results;

/// <summary>
/// An exclusive lock on one experiment folder (<c>.harness.lock</c> inside it), held while a sweep writes
/// there, so two harness processes never interleave writes to the same runs and summary. The lock is an
/// OS file lock (FileShare.None, a <c>flock</c> on Linux): a killed process releases it with its file
/// handles, so there is no stale lock to clean up.
/// </summary>
public sealed class ExperimentLock : IDisposable
{
    public const string FileName = ".harness.lock";
    private readonly FileStream _stream;

    private ExperimentLock(FileStream stream) => _stream = stream;

    /// <exception cref="ExperimentLockedException">Another process (or sweep) holds the folder.</exception>
    public static ExperimentLock Acquire(string experimentDir)
    {
        Directory.CreateDirectory(experimentDir);
        var path = Path.Combine(experimentDir, FileName);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new ExperimentLockedException(experimentDir, path, e);
        }
        // Who holds it, for a person looking at the folder (the lock itself is the OS lock, not this text).
        stream.SetLength(0);
        using (var w = new StreamWriter(stream, leaveOpen: true))
            w.Write($"pid {Environment.ProcessId} since {DateTimeOffset.UtcNow:O}\n");
        stream.Flush(flushToDisk: true);
        return new ExperimentLock(stream);
    }

    public void Dispose() => _stream.Dispose();
}
