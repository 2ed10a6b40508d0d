using static TorchSharp.torch;

namespace Harness.Core.Distributed;

/// <summary>
/// TEST DOUBLE: <see cref="ICollective"/> between threads of one process, so the rank logic (sharding, bucketing,
/// merging, failure paths) runs in CPU tests. Not a transport for real training: on GPUs the collectives are NCCL's
/// (<c>NcclCollective</c>). Every operation is two barriers: each rank posts its tensor, then each reads all
/// posted tensors into a private result, then each writes its own result, so no rank writes a tensor another is
/// still reading. Sums run in rank order 0..N−1 on every rank, so all ranks get bit-identical results.
/// </summary>
public sealed class InProcessCollectiveGroup : IDisposable
{
    private readonly Barrier _barrier;
    private readonly CancellationTokenSource _abort = new();
    private readonly Tensor?[] _posted;
    private readonly string?[] _signatures;
    private readonly Lock _failureLock = new();
    private string? _failure;
    private int _failedRank = -1;

    public InProcessCollectiveGroup(int worldSize, TimeSpan timeout)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(worldSize, 1);
        WorldSize = worldSize;
        Timeout = timeout;
        _barrier = new Barrier(worldSize);
        _posted = new Tensor?[worldSize];
        _signatures = new string?[worldSize];
    }

    public int WorldSize { get; }
    public TimeSpan Timeout { get; }

    /// <summary>The first failure reported to the group, or null.</summary>
    public string? Failure { get { lock (_failureLock) return _failure; } }

    /// <summary>The collective as rank <paramref name="rank"/> sees it.</summary>
    public ICollective Member(int rank)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, WorldSize);
        return new RankView(this, rank);
    }

    /// <summary>
    /// Runs <paramref name="body"/> once per rank, each on its own thread, and returns the results by rank. When a rank
    /// throws, the group is aborted (the others fail at their next collective instead of waiting) and this throws one
    /// <see cref="RankFailedException"/> naming the first rank that failed and why.
    /// </summary>
    public static IReadOnlyList<T> Run<T>(int worldSize, TimeSpan timeout, Func<ICollective, T> body)
    {
        using var group = new InProcessCollectiveGroup(worldSize, timeout);
        var results = new T[worldSize];
        var threads = Enumerable.Range(0, worldSize).Select(rank => new Thread(() =>
        {
            using var member = group.Member(rank);
            try
            {
                results[rank] = body(member);
            }
            catch (Exception e)
            {
                member.Abort(RankFailedException.Describe(rank, e));
            }
        }) { IsBackground = true, Name = $"rank {rank}" }).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        // The first failure recorded is the cause; the other ranks' errors are their release by the abort.
        lock (group._failureLock)
            if (group._failure is { } failure) throw new RankFailedException(group._failedRank, failure);
        return results;
    }

    public void Dispose()
    {
        _barrier.Dispose();
        _abort.Dispose();
    }

    private void Fail(int rank, string reason)
    {
        lock (_failureLock)
        {
            if (_failure is null) (_failure, _failedRank) = (reason, rank);
        }
        try { _abort.Cancel(); } catch (ObjectDisposedException) { }
    }

    private sealed class RankView(InProcessCollectiveGroup group, int rank) : ICollective
    {
        private long _sequence;

        public int Rank => rank;
        public int WorldSize => group.WorldSize;
        public TimeSpan Timeout => group.Timeout;

        public void AllReduce(Tensor buffer, ReduceOp op)
        {
            Exchange($"all_reduce({op}) of {buffer.numel()} {buffer.dtype}", buffer, buffer, posted =>
            {
                var sum = posted[0].to(buffer.device, copy: true);
                for (var r = 1; r < posted.Length; r++) sum.add_(posted[r].to(buffer.device));
                return op == ReduceOp.Average ? sum.div_(posted.Length) : sum;
            });
        }

        public void AllGather(Tensor input, Tensor output)
        {
            if (output.numel() != input.numel() * WorldSize)
                throw new ArgumentException($"all_gather output has {output.numel()} elements, expected {WorldSize} x {input.numel()}");
            Exchange($"all_gather of {input.numel()} {input.dtype}", input, output,
                posted => cat(posted.Select(p => p.reshape(-1).to(output.device)).ToArray()).reshape(output.shape));
        }

        public void Broadcast(Tensor buffer, int root)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(root);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(root, WorldSize);
            Exchange($"broadcast from {root} of {buffer.numel()} {buffer.dtype}", buffer, buffer,
                posted => rank == root ? null : posted[root].to(buffer.device, copy: true));
        }

        public void Barrier() => Exchange("barrier", null, null, _ => null);

        public void Abort(string reason) => group.Fail(rank, reason);

        public void Dispose() { }

        /// <summary>Post, wait, compute a private result from every rank's post, wait, write it.</summary>
        private void Exchange(string signature, Tensor? input, Tensor? output, Func<Tensor[], Tensor?> combine)
        {
            var op = $"collective #{++_sequence} ({signature})";
            group._posted[rank] = input;
            group._signatures[rank] = signature;
            Wait(op);
            var mismatch = group._signatures.FirstOrDefault(s => s != signature);
            if (mismatch is not null)
            {
                var message = $"rank {rank}: {op} does not match another rank's {mismatch}";
                group.Fail(rank, message);
                throw new CollectiveException(message);
            }
            using var scope = NewDisposeScope();
            Tensor? result;
            using (no_grad()) result = combine(group._posted!);
            Wait(op);
            if (result is not null)
                using (no_grad()) output!.copy_(result);
        }

        private void Wait(string op)
        {
            if (group.Failure is { } failed) throw new CollectiveException($"rank {rank}: {op} abandoned: {failed}");
            bool joined;
            try
            {
                joined = group._barrier.SignalAndWait(group.Timeout, group._abort.Token);
            }
            catch (OperationCanceledException)
            {
                throw new CollectiveException($"rank {rank}: {op} abandoned: {group.Failure}");
            }
            if (!joined)
            {
                var message = $"rank {rank}: {op} timed out after {group.Timeout.TotalSeconds:0.###} s waiting for the other ranks";
                group.Fail(rank, message);
                throw new CollectiveException(message);
            }
        }
    }
}
