using Harness.Optimizers.Kernels;
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

    /// <summary>
    /// Full-rank (unprojected) parameters through <c>hk_adamw</c>, with the scalars that turn its torch-style rule
    /// into this transformers-style one: ε/√bc2 for ε (√v/√bc2 + ε/√bc2 = (√v + ε)/√bc2) and no in-kernel decay;
    /// the decoupled decay follows the update, as in <see cref="Apply"/>. Equal up to rounding (the kernel's m is
    /// a lerp). Each state's step counter must already be advanced.
    /// </summary>
    public static void StepFused(FusedKernels kernels, IReadOnlyList<(Tensor Param, Tensor Grad, LowRankAdamState State)> items, LowRankAdamOptions o, double lr)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(o);
        foreach (var group in items.GroupBy(x => (x.Param.dtype, x.State.Step)))
        {
            kernels.AdamW(group.Select(x => (x.Param, x.Grad, x.State.M, x.State.V)).ToList(), FusedScalars(o, lr, group.Key.Step));
            if (o.WeightDecay > 0)
                foreach (var x in group) x.Param.add_(x.Param, alpha: -lr * o.WeightDecay);
        }
    }

    /// <summary>
    /// <c>hk_adamw</c>'s scalars for this rule at step <paramref name="step"/>: applied to a zero placeholder in place of the
    /// parameter, the kernel leaves <c>−StepSize·N</c> in it (N = m/(√v + ε)), the projected update before its projection back.
    /// </summary>
    public static AdamWScalars FusedScalars(LowRankAdamOptions o, double lr, long step)
    {
        ArgumentNullException.ThrowIfNull(o);
        var (beta1, beta2) = (o.Betas[0], o.Betas[1]);
        var bc2Sqrt = Math.Sqrt(1 - Math.Pow(beta2, step));
        return new AdamWScalars(Decay: 1f, W1: (float)(1 - beta1), Beta2: (float)beta2, W2: (float)(1 - beta2), InvBc2Sqrt: (float)(1 / bc2Sqrt),
            Eps: (float)(o.Eps / bc2Sqrt), NegStep: (float)(-lr / (1 - Math.Pow(beta1, step))), ApplyDecay: false);
    }

    /// <summary>Whether the kernels can take this unprojected parameter's step (device, layout, dtype of all four tensors).</summary>
    public static bool FusedAccepts(FusedKernels kernels, Tensor param, Tensor grad, LowRankAdamState s) =>
        s.Projector is null && kernels.Accepts(param) && kernels.Accepts(grad, param.dtype) && kernels.Accepts(s.M, param.dtype) && kernels.Accepts(s.V, param.dtype);
}
