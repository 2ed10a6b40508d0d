namespace Harness.Core.Distributed;

/// <summary>
/// A key-value store in a folder all ranks can see (one host: the launcher makes it), for what ranks exchange before
/// any collective exists: rank 0 publishes NCCL's unique id, the others wait for it. A value is written to a temporary
/// name and renamed, so a reader never sees half of it. Waiting has a timeout, so a rank that died before publishing
/// fails the others with one line instead of hanging them.
/// </summary>
public sealed class FileRendezvous(string folder, int rank, TimeSpan timeout)
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(20);

    public void Publish(string key, byte[] value)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, key);
        var temporary = $"{path}.{rank}.tmp";
        File.WriteAllBytes(temporary, value);
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>The value of <paramref name="key"/> once some rank published it; throws <see cref="CollectiveException"/> after the timeout.</summary>
    public byte[] WaitFor(string key, CancellationToken cancel = default)
    {
        var path = Path.Combine(folder, key);
        var deadline = DateTime.UtcNow + timeout;
        while (!File.Exists(path))
        {
            if (DateTime.UtcNow >= deadline)
                throw new CollectiveException($"rank {rank}: rendezvous '{key}' not published in {folder} within {timeout.TotalSeconds:0.###} s");
            Task.Delay(Poll, cancel).Wait(cancel);
        }
        return File.ReadAllBytes(path);
    }
}
