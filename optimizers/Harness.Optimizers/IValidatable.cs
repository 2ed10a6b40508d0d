namespace Harness.Optimizers;

/// <summary>
/// A bound configuration record that can check itself. The config loader calls it after binding and
/// maps each problem's key back to the YAML line it came from.
/// </summary>
public interface IValidatable
{
    /// <summary>Every problem; empty when valid. Keys are YAML keys relative to this record (e.g. <c>betas[1]</c>).</summary>
    IEnumerable<OptionProblem> Validate();
}
