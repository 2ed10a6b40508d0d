using Harness.Optimizers;

namespace Harness.Core.Config;

/// <summary>The <c>schedule:</c> section: linear warm-up, then constant, linear or cosine decay to <c>min_ratio</c>.</summary>
public sealed record ScheduleConfig : IValidatable
{
    public ScheduleKind Kind { get; init; } = ScheduleKind.Cosine;
    public int WarmupSteps { get; init; }
    /// <summary>The final learning rate as a fraction of the peak.</summary>
    public double MinRatio { get; init; } = 0.1;

    public IEnumerable<OptionProblem> Validate()
    {
        if (WarmupSteps < 0) yield return new("warmup_steps", $"must be >= 0 (got {WarmupSteps})");
        if (!(MinRatio >= 0 && MinRatio <= 1)) yield return new("min_ratio", $"must be in [0, 1] (got {MinRatio:R})");
    }

    /// <summary>The multiplier of the peak learning rate at a 0-based step of a run of <paramref name="totalSteps"/>.</summary>
    public double Multiplier(int step, int totalSteps)
    {
        if (WarmupSteps > 0 && step < WarmupSteps) return (step + 1) / (double)WarmupSteps;
        if (Kind == ScheduleKind.Constant) return 1.0;
        var decaySteps = Math.Max(1, totalSteps - WarmupSteps - 1);
        var progress = Math.Clamp((step - WarmupSteps) / (double)decaySteps, 0, 1);
        var shape = Kind == ScheduleKind.Linear ? 1 - progress : 0.5 * (1 + Math.Cos(Math.PI * progress));
        return MinRatio + (1 - MinRatio) * shape;
    }
}
