namespace Harness.Optimizers;

/// <summary>
/// Options of an optimizer that draws random numbers (stochastic rounding, for instance). The runner
/// hands them the run's seed before creating the optimizer, so each seed of an experiment draws its
/// own stream and a rerun of the same seed draws the same one.
/// </summary>
public interface IRunSeeded
{
    /// <summary>These options with the run's seed folded in.</summary>
    OptimizerOptions WithRunSeed(int runSeed);
}
