using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Core.Distributed;

/// <summary>
/// Gradients grouped for all-reduce as PyTorch DDP groups them: parameters in reverse order (the order backward
/// produces their gradients), each bucket filled up to <c>bucketBytes</c> and holding one dtype; a parameter larger than
/// the cap has a bucket of its own. A bucket is reduced as one flat buffer (one collective call instead of one per
/// tensor) as soon as its last gradient is ready, and buckets are launched in order, so a reduction can overlap the
/// rest of the backward wherever readiness is signalled during it (<see cref="MarkReady"/>).
/// </summary>
public sealed class GradientBuckets
{
    /// <summary>PyTorch DDP's default <c>bucket_cap_mb</c>: 25 MiB.</summary>
    public const long DefaultBucketBytes = 25L << 20;

    private readonly int[] _bucketOf;
    private readonly int[] _missing;
    private int _nextToLaunch;

    public GradientBuckets(IReadOnlyList<long> bytes, IReadOnlyList<string> dtypes, long bucketBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketBytes, 1);
        var buckets = new List<List<int>>();
        long filled = 0;
        for (var i = bytes.Count - 1; i >= 0; i--)
        {
            var current = buckets.Count > 0 ? buckets[^1] : null;
            if (current is null || (filled + bytes[i] > bucketBytes && current.Count > 0) || dtypes[current[0]] != dtypes[i])
            {
                buckets.Add(current = []);
                filled = 0;
            }
            current.Add(i);
            filled += bytes[i];
        }
        Buckets = buckets;
        _bucketOf = new int[bytes.Count];
        for (var b = 0; b < buckets.Count; b++) foreach (var i in buckets[b]) _bucketOf[i] = b;
        _missing = new int[buckets.Count];
        Reset();
    }

    public GradientBuckets(IReadOnlyList<NamedParameter> parameters, long bucketBytes = DefaultBucketBytes)
        : this(parameters.Select(p => p.Value.numel() * p.Value.element_size()).ToList(),
            parameters.Select(p => p.Value.dtype.ToString()).ToList(), bucketBytes) { }

    /// <summary>Parameter indices of each bucket, in launch order (the last parameters first).</summary>
    public IReadOnlyList<IReadOnlyList<int>> Buckets { get; }

    /// <summary>Starts a new backward: no gradient ready.</summary>
    public void Reset()
    {
        for (var b = 0; b < Buckets.Count; b++) _missing[b] = Buckets[b].Count;
        _nextToLaunch = 0;
    }

    /// <summary>
    /// Records that parameter <paramref name="parameter"/>'s gradient is final and returns the buckets that may be
    /// reduced now, in order: a full bucket waits for the buckets before it, as DDP launches them.
    /// </summary>
    public IReadOnlyList<int> MarkReady(int parameter)
    {
        _missing[_bucketOf[parameter]]--;
        var launch = new List<int>();
        while (_nextToLaunch < Buckets.Count && _missing[_nextToLaunch] == 0) launch.Add(_nextToLaunch++);
        return launch;
    }

    /// <summary>Averages bucket <paramref name="bucket"/>'s gradients over the ranks (a missing gradient counts as zero and is then set).</summary>
    public void Reduce(int bucket, IReadOnlyList<NamedParameter> parameters, ICollective collective)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var members = Buckets[bucket];
        var first = parameters[members[0]].Value;
        var flat = empty(members.Sum(i => parameters[i].Value.numel()), first.dtype, first.device);
        long offset = 0;
        foreach (var i in members)
        {
            var p = parameters[i].Value;
            var slice = flat.narrow(0, offset, p.numel());
            if (p.grad is { } g) slice.copy_(g.reshape(-1)); else slice.zero_();
            offset += p.numel();
        }
        collective.AllReduce(flat, ReduceOp.Average);
        offset = 0;
        foreach (var i in members)
        {
            var p = parameters[i].Value;
            var reduced = flat.narrow(0, offset, p.numel()).view(p.shape);
            if (p.grad is { } g) g.copy_(reduced); else p.grad = reduced.clone();
            offset += p.numel();
        }
    }

    /// <summary>After a backward that signalled nothing: marks every gradient ready in backward order and reduces each bucket as it fills.</summary>
    public void ReduceAll(IReadOnlyList<NamedParameter> parameters, ICollective collective)
    {
        Reset();
        for (var i = parameters.Count - 1; i >= 0; i--)
            foreach (var b in MarkReady(i)) Reduce(b, parameters, collective);
    }
}
