namespace Harness.Experiments.Workloads;

/// <summary>
/// Base of the <c>workload:</c> section. Each kind has its own record (bound by <c>kind:</c>), validated
/// by <see cref="Validate"/>, which names the key of every problem.
/// </summary>
public abstract record WorkloadSpec : Harness.Optimizers.IValidatable
{
    /// <summary>Every problem with this spec; empty when valid.</summary>
    public virtual IEnumerable<Harness.Optimizers.OptionProblem> Validate() => [];
}
