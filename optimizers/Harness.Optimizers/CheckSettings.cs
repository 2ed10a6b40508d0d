namespace Harness.Optimizers;

/// <summary>
/// What the GPU equivalence checks and the step benchmark need to know about one optimizer, kept on its catalog line
/// (<see cref="OptimizerDescriptor.Checks"/>) so that they iterate the catalog by trait and never by kind name.
/// </summary>
public sealed record CheckSettings
{
    /// <summary>No check options: the optimizer runs only the checks that need none (CUDA against CPU with its defaults).</summary>
    public static CheckSettings None { get; } = new();

    /// <summary>
    /// Options for a check run: learning rate, weight decay and the implementation (<c>tensor-ops</c> or <c>cuda-fused</c>;
    /// null keeps the optimizer's default). Null when the optimizer has no weight decay to set.
    /// </summary>
    public Func<double, double, string?, OptimizerOptions>? Options { get; init; }

    /// <summary>
    /// fp32 bound on the worst difference of <c>cuda-fused</c> from <c>tensor-ops</c>, relative to the largest update:
    /// the same ops with the same roundings agree to rounding; a reduction in another order (Gefen's Σg²) and the code
    /// flips it causes do not.
    /// </summary>
    public double FusedBoundFloat32 { get; init; } = 5e-2;

    /// <summary>Peak learning rate of the FORGE route check (the tiny LLaMA, a few steps).</summary>
    public double ForgeLr { get; init; } = 3e-3;

    /// <summary>The FORGE route-equivalence cases of a <see cref="OptimizerTraits.SlabStep"/> optimizer.</summary>
    public IReadOnlyList<ForgeRouteCase> ForgeRouteCases { get; init; } = [];

    /// <summary>
    /// Options for the whole-run equivalence check (weight decay, the 8-bit threshold where the optimizer has one, the
    /// implementation): betas (0.9, 0.95) as the language-model runs use them. Null: not in that check.
    /// </summary>
    public Func<double, long, string, OptimizerOptions>? WholeRunOptions { get; init; }

    /// <summary>
    /// Bound on the whole-run check's floating state (relative to each state tensor's largest entry) after the run. The
    /// same ops in the same order agree to rounding (1e-6); a state reduced in another order on the GPU (Gefen's per-block
    /// Σg², a tree in the kernel, torch's sum in tensor-ops) drifts a little further over 100 steps.
    /// </summary>
    public double WholeRunStateRelative { get; init; } = 1e-6;

    /// <summary>
    /// Options for the CUDA-against-CPU check where the defaults choose different arithmetic per device (Muon's
    /// Newton-Schulz runs in bf16 on CUDA and fp32 on the CPU by default): the check then compares the algorithm under the
    /// same arithmetic on both. Null: the defaults.
    /// </summary>
    public Func<OptimizerOptions>? DeviceCheckOptions { get; init; }

    /// <summary>True when the tensor-ops step is slow enough that the step benchmark times fewer steps of it.</summary>
    public bool SlowTensorOps { get; init; } = true;
}
