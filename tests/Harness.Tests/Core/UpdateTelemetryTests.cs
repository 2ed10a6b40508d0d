using Harness.Results;
using Harness.Core.Running;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using Harness.Optimizers.AdamW;
using static TorchSharp.torch;

namespace Harness.Tests.Core;

/// <summary>The update telemetry reads the parameters only, and its ratios are |Δp| / lr per role.</summary>
public sealed class UpdateTelemetryTests
{
    private sealed class HostClock : IDeviceClock
    {
        public double Now() => 0;
    }

    private const double Lr = 1e-2, WeightDecay = 0.1;

    // Three AdamW steps of the tiny LLaMA, with or without the telemetry around each; the final parameters, the
    // telemetry's rows, and the ratios computed here from copies of our own.
    private static (List<Tensor> Params, List<UpdateRecord> Rows, List<(int Step, string Role, double Max, double Rms)> Expected) Train(
        Func<IStepDriver> makeDriver, bool telemetryOn)
    {
        using var workload = new LanguageModelWorkload(TestConfigs.TinyLlama(16), new WorkloadContext(5, CPU, ScalarType.Float32, 4));
        using var optimizer = new AdamW(workload.Parameters, new AdamWOptions { Lr = Lr, WeightDecay = WeightDecay });
        using var telemetry = new UpdateTelemetry();
        var driver = makeDriver();
        var rows = new List<UpdateRecord>();
        var expected = new List<(int, string, double, double)>();
        for (var step = 1; step <= 3; step++)
        {
            var mine = workload.Parameters.Select(p => p.Value.detach().clone().DetachFromDisposeScope()).ToList();
            if (telemetryOn) telemetry.Before(workload.Parameters);
            using (NewDisposeScope())
                driver.TrainStep(workload, optimizer, [workload.NextBatch(Split.Train)], Lr, new StepTimings());
            if (telemetryOn) rows.AddRange(telemetry.After(step, Lr));
            using (NewDisposeScope())
                foreach (var role in workload.Parameters.Select(p => p.Role).Distinct().Order())
                {
                    var deltas = workload.Parameters.Select((p, i) => (p, i)).Where(x => x.p.Role == role)
                        .Select(x => (x.p.Value.detach() - mine[x.i]).reshape(-1)).ToList();
                    var all = cat(deltas).to(ScalarType.Float64);
                    expected.Add((step, UpdateTelemetry.RoleName(role), all.abs().max().item<double>() / Lr,
                        all.square().mean().sqrt().item<double>() / Lr));
                }
            foreach (var t in mine) t.Dispose();
        }
        (driver as IDisposable)?.Dispose();
        return (workload.Parameters.Select(p => p.Value.detach().clone().DetachFromDisposeScope()).ToList(), rows, expected);
    }

    public static TheoryData<string> Drivers => ["standard", "fused_backward"];

    private static IStepDriver Driver(string kind) =>
        kind == "standard" ? new StandardStepDriver(new HostClock(), 0) : new ForgeStepDriver(new HostClock(), 8, 0);

    [Theory]
    [MemberData(nameof(Drivers))]
    public void Telemetry_leaves_training_bit_identical_and_measures_delta_p_over_lr_per_role(string driver)
    {
        var off = Train(() => Driver(driver), telemetryOn: false);
        var on = Train(() => Driver(driver), telemetryOn: true);
        for (var i = 0; i < off.Params.Count; i++)
            Assert.True(off.Params[i].eq(on.Params[i]).all().item<bool>(), $"parameter {i} differs with the telemetry on");

        // Roles of the tiny LLaMA: matrices, norm vectors, the embedding and the untied head, each step.
        Assert.Equal(on.Expected.Select(e => (e.Step, e.Role)), on.Rows.Select(r => (r.Step, r.Role)));
        Assert.Equal(["matrix", "vector", "embedding", "output_head"], on.Rows.Where(r => r.Step == 1).Select(r => r.Role));
        foreach (var (row, (_, _, max, rms)) in on.Rows.Zip(on.Expected))
        {
            Assert.Equal(max, row.MaxRatio, max * 1e-6);
            Assert.Equal(rms, row.RmsRatio, rms * 1e-5);
        }
        // AdamW's first step: |Δp| = lr·|g|/(|g| + ε) + lr·λ·|p| <= lr·(1 + λ·max|p|); for most elements |g| >> ε.
        foreach (var row in on.Rows.Where(r => r.Step == 1))
            Assert.InRange(row.MaxRatio, 0.99, 1 + WeightDecay * 1.0 + 1e-4); // norms start at 1; float32 rounding of p near 1
    }
}
