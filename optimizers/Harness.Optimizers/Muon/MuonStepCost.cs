namespace Harness.Optimizers.Muon;

/// <summary>
/// Muon's step cost for the step benchmark: the minimum bytes, and per orthogonalised matrix (s = shorter side,
/// l = longer) k quintic Newton–Schulz iterations of X·Xᵀ (2·s²·l), its square (2·s³) and the product with X (2·s²·l):
/// k·(4·s²·l + 2·s³). No refresh. The products run in bf16 under <c>ns_dtype: bfloat16</c>, and under <c>auto</c> on CUDA.
/// </summary>
public static class MuonStepCost
{
    public static StepCost Of(IReadOnlyList<NamedParameter> parameters, MuonOptions o, long stateBytes) =>
        new(StepCost.MinimumBytes(parameters, stateBytes),
            StepCost.SumOverMatrices(parameters, Muon.UsesMuon, (m, n) =>
            {
                var (s, l) = (Math.Min(m, n), Math.Max(m, n));
                return o.NsSteps * (4 * s * s * l + 2 * s * s * s);
            }),
            0)
        {
            BFloat16Matmuls = o.NsDtype == NewtonSchulzDtype.Bfloat16
                || o.NsDtype == NewtonSchulzDtype.Auto && parameters.Any(p => p.Value.device_type == TorchSharp.DeviceType.CUDA),
        };
}
