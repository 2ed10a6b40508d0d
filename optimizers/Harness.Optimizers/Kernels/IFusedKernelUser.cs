namespace Harness.Optimizers.Kernels;

/// <summary>
/// An optimizer with a fused CUDA step. The runner hands it the session's kernels (or null when there are
/// none, with the reason); the optimizer's <c>implementation</c> option decides what happens: <c>auto</c>
/// uses them when its parameters are on CUDA, <c>tensor-ops</c> never does, <c>cuda-fused</c> requires them.
/// </summary>
public interface IFusedKernelUser
{
    /// <summary>Attaches the kernels; throws <see cref="InvalidOperationException"/> when <c>cuda-fused</c> was asked for and cannot run.</summary>
    void AttachKernels(FusedKernels? kernels, string status);
}

/// <summary>The values of the <c>implementation</c> option shared by the optimizers with fused kernels.</summary>
public static class ImplementationChoice
{
    public const string Auto = "auto", TensorOps = "tensor-ops", CudaFused = "cuda-fused";
    public static readonly IReadOnlyList<string> Values = [Auto, TensorOps, CudaFused];

    /// <summary>What a run that took the host-emulated build of the kernels records as its implementation.</summary>
    public const string CudaFusedEmulated = "cuda-fused (emulated)";

    /// <summary>The implementation an optimizer reports: tensor-ops without kernels, cuda-fused, or cuda-fused (emulated).</summary>
    public static string NameOf(FusedKernels? kernels) => kernels is null ? TensorOps : kernels.IsEmulated ? CudaFusedEmulated : CudaFused;

    public static IEnumerable<OptionProblem> Validate(string value)
    {
        if (!Values.Contains(value))
            yield return new("implementation", $"must be one of {string.Join(", ", Values)} (got '{value}')");
    }

    /// <summary>
    /// Decides whether to use <paramref name="kernels"/>: null (tensor-ops) or the kernels; throws when
    /// <c>cuda-fused</c> was asked for and they are missing or the parameters are not on CUDA. <c>auto</c> never takes
    /// the host-emulated build (a verification tool, far slower than the tensor ops); only <c>cuda-fused</c> does.
    /// </summary>
    public static FusedKernels? Resolve(string choice, FusedKernels? kernels, string status, IReadOnlyList<NamedParameter> parameters, string optimizer)
    {
        if (choice == TensorOps) return null;
        var parametersOnCuda = parameters.Count > 0 && parameters.All(p => kernels?.OnItsDevice(p.Value) ?? p.Value.device_type == TorchSharp.DeviceType.CUDA);
        if (kernels is not null && parametersOnCuda && (choice == CudaFused || !kernels.IsEmulated)) return kernels;
        if (choice == CudaFused)
            throw new InvalidOperationException(kernels is null
                ? $"{optimizer}: implementation 'cuda-fused' asked for, but the fused kernels are unavailable ({status})"
                : $"{optimizer}: implementation 'cuda-fused' needs every parameter on the kernels' device ({kernels.DeviceType})");
        return null;
    }
}
