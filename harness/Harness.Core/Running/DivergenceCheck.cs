using Harness.Experiments.Workloads;
using static TorchSharp.torch;

namespace Harness.Core.Running;

/// <summary>
/// Decides whether a run has diverged, on the steps where the loss is read anyway (log and eval steps, so
/// it adds no host sync elsewhere): a NaN/Inf training or evaluation loss, a NaN/Inf parameter, or a
/// training loss above <c>divergence_factor</c> × the initial evaluation loss.
/// </summary>
public sealed class DivergenceCheck(double factor, double initialEvalLoss)
{
    /// <summary>Why the run diverged at <paramref name="step"/>, or null when it has not.</summary>
    public string? Check(int step, double? trainLoss, EvalResult? eval, IWorkload workload)
    {
        if (trainLoss is { } l && !double.IsFinite(l)) return $"training loss became {l} at step {step}";
        if (eval is not null && !double.IsFinite(eval.Loss)) return $"evaluation loss became {eval.Loss} at step {step}";
        if (factor > 0 && trainLoss > factor * initialEvalLoss)
            return $"training loss {trainLoss:G6} exceeds divergence_factor {factor:G} x initial eval loss {initialEvalLoss:G6} at step {step}";
        if (trainLoss is null && eval is null) return null;
        using var scope = NewDisposeScope();
        foreach (var p in workload.Parameters)
            if (!isfinite(p.Value).all().item<bool>())
                return $"parameter '{p.Name}' holds NaN or Inf at step {step}";
        return null;
    }
}
