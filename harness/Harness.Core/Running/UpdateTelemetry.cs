using Harness.Core.Config;
using Harness.Results;
using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Core.Running;

/// <summary>
/// How far a logged step moves the parameters, per <see cref="ParamRole"/>, in units of the step's learning rate:
/// <see cref="Before"/> copies every parameter to host memory before the step (before the forward, so FORGE's
/// updates during the backward are included), <see cref="After"/> compares. Only logged steps pay: one copy of the
/// parameters to the host and, after the step, one parameter at a time back on the device. The copy is read-only
/// (a detached clone under <c>no_grad</c>), so training is bit-identical with or without it. The copy lives in host
/// memory and is made before the step's memory peak is reset; the comparison (one parameter's copy back on the device
/// at a time) runs after the step's peak was read, so neither enters M2 or M3 (the caching allocator may keep the
/// largest parameter's block for M4).
/// </summary>
/// <remarks>
/// A per-element Adam update is bounded: |m̂ / (√v̂ + ε)| ≤ (1 − β1)/√(1 − β2) per step of a fresh moment and close to
/// 1 in steady state, so |Δp| / lr of AdamW stays within a few units (plus λ|p| from decoupled decay). Much larger
/// ratios mean the rule misbehaved, e.g. 8-bit Adam dividing a non-zero m by c2·ε where v quantized to zero.
/// </remarks>
public sealed class UpdateTelemetry : IDisposable
{
    private List<(NamedParameter Parameter, Tensor Copy)>? _before;

    /// <summary>The largest ratio so far (rows written by this instance, and any <see cref="Seed"/>ed before).</summary>
    public double? MaxRatio { get; private set; }

    /// <summary>Where <see cref="MaxRatio"/> was seen ("embedding at step 40").</summary>
    public string MaxWhere { get; private set; } = "";

    /// <summary>Continues a resumed run's maximum from the rows it kept.</summary>
    public void Seed(IEnumerable<UpdateRecord> rows)
    {
        foreach (var r in rows) Track(r);
    }

    /// <summary>Copies the parameters (to host memory) before a logged step.</summary>
    public void Before(IReadOnlyList<NamedParameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        DisposeCopies();
        using var noGrad = no_grad();
        // The scope takes the detached views; only the copies outlive it.
        using var scope = NewDisposeScope();
        _before = parameters.Select(p => (p, p.DenseValue().detach().to(CPU, copy: true).DetachFromDisposeScope())).ToList();
    }

    /// <summary>
    /// Compares with the copy of <see cref="Before"/> and returns one row per role present (in <see cref="ParamRole"/>
    /// order); nothing when no copy was taken or <paramref name="lr"/> is not positive (a ratio to 0 means nothing).
    /// </summary>
    public IReadOnlyList<UpdateRecord> After(int step, double lr)
    {
        if (_before is null) return [];
        var rows = new List<UpdateRecord>();
        try
        {
            if (!(lr > 0)) return rows;
            var perRole = new SortedDictionary<ParamRole, (long Elements, double SumSquares, double Max, string MaxName)>();
            using var noGrad = no_grad();
            foreach (var (p, copy) in _before)
            {
                using var scope = NewDisposeScope();
                var delta = p.DenseValue().detach().to(ScalarType.Float32).sub(copy.to(p.Value.device).to(ScalarType.Float32));
                var max = delta.abs().max().item<float>();
                var sumSquares = delta.to(ScalarType.Float64).square().sum().item<double>();
                var (elements, sum, best, name) = perRole.GetValueOrDefault(p.Role, (0L, 0.0, double.NegativeInfinity, ""));
                // NaN wins the comparison so that a non-finite update is never hidden behind a finite maximum.
                var larger = !(max <= best);
                perRole[p.Role] = (elements + p.Value.numel(), sum + sumSquares, larger ? max : best, larger ? p.Name : name);
            }
            foreach (var (role, (elements, sum, max, name)) in perRole)
            {
                var row = new UpdateRecord
                {
                    Step = step, Role = RoleName(role), Lr = lr, Elements = elements,
                    MaxRatio = max / lr, RmsRatio = Math.Sqrt(sum / Math.Max(1, elements)) / lr, MaxParameter = name,
                };
                rows.Add(row);
                Track(row);
            }
            return rows;
        }
        finally
        {
            DisposeCopies();
        }
    }

    /// <summary>The role as <c>updates.csv</c> names it (snake_case: <c>output_head</c>).</summary>
    public static string RoleName(ParamRole role) => KeyNames.SnakeCase(role.ToString());

    private void Track(UpdateRecord r)
    {
        if (MaxRatio is { } m && r.MaxRatio <= m) return;
        MaxRatio = r.MaxRatio;
        MaxWhere = $"{r.Role} ('{r.MaxParameter}') at step {r.Step}";
    }

    private void DisposeCopies()
    {
        if (_before is null) return;
        foreach (var (_, copy) in _before) copy.Dispose();
        _before = null;
    }

    public void Dispose() => DisposeCopies();
}
