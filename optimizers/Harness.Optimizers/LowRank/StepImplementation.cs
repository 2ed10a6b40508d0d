namespace Harness.Optimizers.LowRank;

/// <summary>
/// The <c>implementation</c> option of the optimizers with a shape-batched step (GaLore, SubTrack++, SWAN):
/// <c>tensor-ops</c> is the per-tensor reference, <c>batched</c> stacks same-shaped matrices (one bmm per
/// shape group), <c>auto</c> (the default) picks <c>batched</c>. Both are free of host syncs.
/// </summary>
public static class StepImplementation
{
    public const string Auto = "auto", TensorOps = "tensor-ops", Batched = "batched", CudaFused = "cuda-fused";
    public static readonly IReadOnlyList<string> Values = [Auto, TensorOps, Batched];

    /// <summary>True when <paramref name="value"/> selects the batched step.</summary>
    public static bool IsBatched(string value) => value != TensorOps;

    /// <param name="value">The option's value.</param>
    /// <param name="fusedKernel">Whether the optimizer also accepts <c>cuda-fused</c>.</param>
    public static IEnumerable<OptionProblem> Validate(string value, bool fusedKernel = false)
    {
        IReadOnlyList<string> values = fusedKernel ? [.. Values, CudaFused] : Values;
        if (!values.Contains(value))
            yield return new("implementation", $"must be one of {string.Join(", ", values)} (got '{value}')");
    }

    /// <summary>
    /// The fused kernels a batched optimizer's full-rank parameters take: <c>auto</c> and <c>cuda-fused</c> resolve them as
    /// <see cref="Kernels.ImplementationChoice.Resolve"/> does (<c>cuda-fused</c> throws where they cannot run); <c>tensor-ops</c>
    /// and <c>batched</c> never take them.
    /// </summary>
    public static Kernels.FusedKernels? ResolveKernels(string value, Kernels.FusedKernels? kernels, string status, IReadOnlyList<NamedParameter> parameters, string optimizer) =>
        value is Auto or CudaFused ? Kernels.ImplementationChoice.Resolve(value, kernels, status, parameters, optimizer) : null;
}
