namespace Harness.Core.Running;

/// <summary>The thresholds of <see cref="LossMonitor"/> (from <c>training:</c>).</summary>
/// <param name="SpikeFactor">k of a training spike (loss above k × the running median); 0 = off.</param>
/// <param name="DivergenceFactor">The limit's multiple of the initial evaluation loss; 0 = off (NaN/Inf still diverge).</param>
/// <param name="DivergencePatience">Consecutive loss reads above the limit that make a run diverged (1 = the first).</param>
public sealed record LossMonitorSettings(double SpikeFactor, double DivergenceFactor, int DivergencePatience);
