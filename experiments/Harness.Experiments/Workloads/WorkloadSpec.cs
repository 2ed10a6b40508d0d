namespace Harness.Experiments.Workloads;

/// <summary>
/// Base of the <c>workload:</c> section. Each kind has its own record (bound by <c>kind:</c>), validated
/// by <see cref="Validate"/>, which names the key of every problem.
/// </summary>
public abstract record WorkloadSpec : Harness.Optimizers.IValidatable
{
    /// <summary>Every problem with this spec; empty when valid.</summary>
    public virtual IEnumerable<Harness.Optimizers.OptionProblem> Validate() => [];

    /// <summary>
    /// The checks every sequence model shares: <c>seq_len</c> ≥ 2, each given shape key ≥ 1, the data
    /// section, and a known size preset (<paramref name="sizeProblem"/> is set when it is not).
    /// </summary>
    protected static IEnumerable<Harness.Optimizers.OptionProblem> SequenceModelBasics(
        int seqLen, TextDataSpec data, string size, IReadOnlyList<string> knownSizes, params (string Key, int? Value)[] shape)
    {
        if (seqLen < 2) yield return new("seq_len", $"must be >= 2 (got {seqLen})");
        foreach (var (key, value) in shape)
            if (value is < 1) yield return new(key, $"must be >= 1 (got {value})");
        foreach (var p in data.Validate()) yield return p with { Key = $"data.{p.Key}" };
        if (!knownSizes.Contains(size))
            yield return new("size", $"unknown size '{size}'; known sizes: {string.Join(", ", knownSizes)}");
    }
}
