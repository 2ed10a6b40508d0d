using static TorchSharp.torch;

namespace Harness.Optimizers.LowRank;

/// <summary>
/// The one Adam update that GaLore, SubTrack++ and Q-GaLore share, in the transformers-style form their
/// reference code uses (<c>galore_torch/adamw.py</c>, <c>low_rank_torch/adamw.py</c>): ε is added to the
/// uncorrected √v and both bias corrections are folded into the step size. The moments live in whatever
/// space the gradient is given in (projected for Matrix parameters, full for the rest), so the same
/// code is "plain AdamW" for parameters without a projector.
/// </summary>
public static class LowRankAdam
{
    /// <summary>
    /// <c>m ← β1·m + (1−β1)·g</c>, <c>v ← β2·v + (1−β2)·g²</c> in place; returns the normalised direction
    /// <c>N = m / (√v + ε)</c> (a new tensor, in the caller's scope).
    /// </summary>
    public static Tensor Direction(Tensor m, Tensor v, Tensor g, double beta1, double beta2, double eps)
    {
        m.mul_(beta1).add_(g, alpha: 1 - beta1);
        v.mul_(beta2).addcmul_(g, g, value: 1 - beta2);
        return m / v.sqrt().add_(eps);
    }

    /// <summary>The bias-corrected step size <c>lr·√(1−β2^t)/(1−β1^t)</c> for step <paramref name="t"/> (from 1).</summary>
    public static double StepSize(double lr, long t, double beta1, double beta2) =>
        lr * Math.Sqrt(1 - Math.Pow(beta2, t)) / (1 - Math.Pow(beta1, t));

    /// <summary>
    /// <c>p ← p − stepSize·update</c>, then the decoupled decay <c>p ← p − lr·wd·p</c> on the new p (the
    /// reference order; the decay uses the scheduled lr, not the step size, and no projection scale).
    /// </summary>
    public static void Apply(Tensor param, Tensor update, double stepSize, double lr, double weightDecay)
    {
        param.add_(update, alpha: -stepSize);
        if (weightDecay > 0) param.add_(param, alpha: -lr * weightDecay);
    }

    /// <summary>
    /// One whole step for a parameter: project (when it has a projector), update the moments, map the
    /// direction back and apply it. Methods with extra terms (SubTrack++) call the three parts themselves.
    /// </summary>
    public static void Step(Tensor param, Tensor grad, LowRankAdamState s, LowRankAdamOptions o, double lr)
    {
        var (beta1, beta2) = (o.Betas[0], o.Betas[1]);
        var g = s.Projector is { } projector ? projector.Project(grad, s.Step - 1) : grad;
        var n = Direction(s.M, s.V, g, beta1, beta2, o.Eps);
        var update = s.Projector?.ProjectBack(n) ?? n;
        Apply(param, update, StepSize(lr, s.Step, beta1, beta2), lr, o.WeightDecay);
    }
}
