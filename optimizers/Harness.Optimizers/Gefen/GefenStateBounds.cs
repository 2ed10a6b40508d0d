namespace Harness.Optimizers.Gefen;

/// <summary>
/// Gefen's state size from shapes alone. Each tensor's period P is chosen from its first gradient, so the
/// exact size (<see cref="Gefen.TensorStateBytes"/>, <c>n + 2s·n/P</c> for P &gt; 1, <c>n + s·n + s·n/D</c> for
/// P = 1) is known only after that step; over every gradient it lies between the largest period the selection
/// and cap rules of <see cref="BlockPeriods"/> can return for n elements (the least state) and P = 1 (the most).
/// Gradients have the parameter's dtype, which sets s (4 for float32, 2 for bf16/fp16; 4 with <c>fp32_state</c>).
/// </summary>
public static class GefenStateBounds
{
    /// <summary>The catalog's bound: the range of the codebook plus every tensor's state over all possible periods.</summary>
    public static StateBytesRange Of(IReadOnlyList<NamedParameter> parameters, GefenOptions options)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(options);
        long min = 0, max = 0;
        foreach (var p in parameters)
        {
            var n = p.Value.numel();
            if (n == 0) continue;
            var s = Gefen.ElementSize(Gefen.StateTypeFor(p.Value.dtype, options));
            min += Gefen.TensorStateBytes(n, LargestPeriod(n), s);
            max += Gefen.TensorStateBytes(n, 1, s);
        }
        const long codebook = CodebookDp.Codewords * sizeof(float);
        return min == 0 ? new StateBytesRange(0, 0) : new StateBytesRange(min + codebook, max + codebook);
    }

    /// <summary>
    /// The largest period <see cref="BlockPeriods.Select"/> can return for <paramref name="n"/> elements: the
    /// candidates are the divisors leaving at least 4 blocks, of which only those above 8 and neither first nor
    /// last can win; a winner above 1024 is cut to its smallest divisor above 1024. 1 when no divisor can win.
    /// </summary>
    public static long LargestPeriod(long n)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        var scored = BlockPeriods.Divisors(n).Where(p => n / p >= BlockPeriods.MinBlocks).ToList();
        long best = 1;
        for (var k = 1; k < scored.Count - 1; k++)
        {
            var p = scored[k];
            if (p <= BlockPeriods.MinSelectable) continue;
            var capped = p > BlockPeriods.Cap ? BlockPeriods.Divisors(p).First(d => d > BlockPeriods.Cap) : p;
            best = Math.Max(best, capped);
        }
        return best;
    }
}
