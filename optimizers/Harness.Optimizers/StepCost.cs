namespace Harness.Optimizers;

/// <summary>
/// What one optimizer step must do at least, for the step benchmark's two floors (specs/measurement.md §4.4: a roofline,
/// max(bytes / bandwidth, FLOPs / matmul throughput)). Each catalog line declares it once
/// (<see cref="OptimizerDescriptor.StepCost"/>).
/// </summary>
/// <param name="BytesMoved">Bytes a step must read and write: parameters read and written, gradients read, every state byte read and written.</param>
/// <param name="MatmulFlops">Matrix-product FLOPs of an ordinary step (2·m·n·k per m×k by k×n product); projection refreshes excluded.</param>
/// <param name="RefreshEvery">Steps between projection refreshes (SVD, subspace update, random redraw); 0 when there are none.</param>
public sealed record StepCost(long BytesMoved, long MatmulFlops, int RefreshEvery)
{
    /// <summary>True when the step's matrix products run in bf16 whatever the parameters' dtype (Muon's Newton–Schulz on
    /// CUDA by default): the compute floor then uses the bf16 matmul rate.</summary>
    public bool BFloat16Matmuls { get; init; }

    /// <summary>The bytes every step moves whatever the rule: 2·parameter bytes + gradient bytes + 2·state bytes.</summary>
    public static long MinimumBytes(IReadOnlyList<NamedParameter> parameters, long stateBytes)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var parameterBytes = parameters.Sum(p => p.Value.numel() * p.Value.element_size());
        return 2 * parameterBytes + parameterBytes + 2 * stateBytes; // gradients have the parameters' dtype and shape
    }

    /// <summary>An element-wise rule (AdamW, Lion, 8-bit Adam, …): the minimum bytes, no matrix products, no refresh.</summary>
    public static StepCost Elementwise(IReadOnlyList<NamedParameter> parameters, long stateBytes) => new(MinimumBytes(parameters, stateBytes), 0, 0);

    /// <summary>
    /// The sum of <paramref name="perMatrix"/>(rows, columns) over the 2-D parameters that <paramref name="selected"/> keeps
    /// (a tensor of more dimensions counts as rows × the product of the rest).
    /// </summary>
    public static long SumOverMatrices(IReadOnlyList<NamedParameter> parameters, Func<NamedParameter, bool> selected, Func<long, long, long> perMatrix)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(selected);
        ArgumentNullException.ThrowIfNull(perMatrix);
        return parameters.Where(p => p.Value.dim() >= 2 && selected(p)).Sum(p => perMatrix(p.Value.shape[0], p.Value.numel() / p.Value.shape[0]));
    }
}
