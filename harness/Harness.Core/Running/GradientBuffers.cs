using Harness.Core.Config;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Core.Running;

/// <summary>Ends a step's gradients as <c>training.grad_buffers</c> asks: dropped, or zeroed in place and kept.</summary>
public static class GradientBuffers
{
    public static void Clear(IWorkload workload, IOptimizer optimizer, GradBuffersMode mode)
    {
        ArgumentNullException.ThrowIfNull(workload);
        ArgumentNullException.ThrowIfNull(optimizer);
        if (mode == GradBuffersMode.Free)
        {
            optimizer.ZeroGrad();
            return;
        }
        using var noGrad = no_grad();
        foreach (var p in workload.Parameters)
        {
            // The getter returns a fresh handle each call: dispose it, the buffer itself stays on the parameter.
            using var grad = p.Value.grad;
            grad?.zero_();
        }
    }
}
