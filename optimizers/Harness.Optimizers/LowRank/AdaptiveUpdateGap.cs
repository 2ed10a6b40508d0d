using static TorchSharp.torch;

namespace Harness.Optimizers.LowRank;

/// <summary>
/// Q-GaLore's layer-adaptive ("lazy") subspace refresh (VITA-Group/Q-GaLore @5bd2f1c,
/// <c>q_galore_projector.py</c> L31-91): a projector refreshes its basis when it has none or when
/// <c>step % gap == 0</c> (absolute step, current gap). After each refresh the signed cosine between the
/// previous and the new top singular vector joins a queue of at most <c>queueSize</c> entries (the oldest
/// leaves first); when the queue is full and its mean is ≥ <c>cosThreshold</c>, the gap becomes
/// <c>(long)(gap · gamma)</c>. The queue is never cleared, so the gap can double at every later refresh.
/// </summary>
/// <remarks>
/// The state lives in two small CPU tensors so that it is checkpointed with the rest of the optimizer
/// state and reading it never synchronises an accelerator: <c>counters</c> int64 [3] = (gap, refreshes,
/// queue length) and <c>queue</c> float64 [queueSize]. 24 + 8·queueSize bytes.
/// </remarks>
public sealed class AdaptiveUpdateGap : IDisposable
{
    private const int Gap = 0, Refreshes = 1, Length = 2;
    private readonly double _cosThreshold;
    private readonly double _gamma;

    public AdaptiveUpdateGap(long initialGap, int queueSize, double cosThreshold, double gamma)
    {
        if (initialGap <= 0) throw new ArgumentOutOfRangeException(nameof(initialGap), initialGap, "must be > 0");
        if (queueSize <= 0) throw new ArgumentOutOfRangeException(nameof(queueSize), queueSize, "must be > 0");
        if (!(gamma >= 1)) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "must be >= 1");
        _cosThreshold = cosThreshold;
        _gamma = gamma;
        Counters = tensor(new[] { initialGap, 0L, 0L });
        Queue = zeros(queueSize, dtype: ScalarType.Float64);
    }

    /// <summary>int64 [3]: the current gap, the number of refreshes so far, the queue length.</summary>
    public Tensor Counters { get; }

    /// <summary>float64 [queueSize]: the cosine similarities, oldest first; entries past the length are unused.</summary>
    public Tensor Queue { get; }

    /// <summary>The gap now in force.</summary>
    public long UpdateGap => Counters.data<long>()[Gap];

    /// <summary>How many refreshes (SVDs) have run.</summary>
    public long RefreshCount => Counters.data<long>()[Refreshes];

    /// <summary>The queued similarities, oldest first.</summary>
    public IReadOnlyList<double> Similarities
    {
        get
        {
            var q = Queue.data<double>();
            return Enumerable.Range(0, (int)Counters.data<long>()[Length]).Select(i => q[i]).ToList();
        }
    }

    /// <summary>Whether the basis must be (re)computed at 0-based step <paramref name="step"/>.</summary>
    public bool IsDue(long step) => RefreshCount == 0 || step % UpdateGap == 0;

    /// <summary>
    /// Records one refresh: <paramref name="similarity"/> is the signed cosine between the previous and
    /// the new top singular vector, or null on the first refresh (there is no previous one).
    /// </summary>
    public void Record(double? similarity)
    {
        var c = Counters.data<long>();
        c[Refreshes] = c[Refreshes] + 1;
        if (similarity is not { } cos) return;

        var q = Queue.data<double>();
        var size = (int)Queue.numel();
        var length = (int)c[Length];
        if (length == size)
        {
            for (var i = 1; i < size; i++) q[i - 1] = q[i];
            length--;
        }
        q[length] = cos;
        c[Length] = ++length;

        if (length < size) return;
        var sum = 0.0;
        for (var i = 0; i < size; i++) sum += q[i];
        if (sum / size >= _cosThreshold) c[Gap] = (long)(c[Gap] * _gamma);
    }

    public void Dispose()
    {
        Counters.Dispose();
        Queue.Dispose();
    }
}
