using Harness.Optimizers.Kernels;
using Harness.Optimizers.LowRank;
using Harness.Optimizers.Quantization;
using static TorchSharp.torch;

namespace Harness.Core.Checks;

/// <summary>
/// Q-GaLore's fused weight write-back (<see cref="FusedKernels.QGaLoreRequantize"/>) against the tensor-ops one
/// (<see cref="TiledRequantizer.Update"/> with <see cref="LowRankAdam.Apply"/>) on one device: the same weight and update,
/// values (dense) or codes, scales and zero points (stored) compared for equality. gpu-check runs it on CUDA, the test suite
/// on the emulated build.
/// </summary>
public static class QGaLoreRequantEquivalence
{
    /// <summary>One comparison: the weight's dtype and storage, the rounding, the weight decay and the shape.</summary>
    public sealed record Case(ScalarType DType, bool Stored, bool Stochastic, double WeightDecay, long Rows, long Cols, int GroupSize)
    {
        public override string ToString() =>
            $"Q-GaLore fused write-back = tensor-ops ({(Stored ? "int8 stored" : DType.ToString().ToLowerInvariant() + " dense")}, " +
            $"{(Stochastic ? "stochastic" : "nearest")}, wd {WeightDecay}, {Rows}x{Cols}, groups of {GroupSize})";
    }

    /// <summary>Small cases (a short last group, groups without update) for the emulated build.</summary>
    public static IReadOnlyList<Case> SmallCases { get; } =
    [
        new(ScalarType.Float32, false, true, 0.1, 37, 29, 64), new(ScalarType.Float32, false, false, 0, 37, 29, 64),
        new(ScalarType.BFloat16, false, true, 0.1, 37, 29, 64), new(ScalarType.Float32, true, true, 0.1, 37, 29, 64),
        new(ScalarType.Float32, true, false, 0, 37, 29, 64),
    ];

    /// <summary>LLaMA-60M MLP shapes with Q-GaLore's groups of 256, for gpu-check.</summary>
    public static IReadOnlyList<Case> GpuCases { get; } =
    [
        new(ScalarType.Float32, false, true, 0.1, 1376, 512, 256), new(ScalarType.BFloat16, false, true, 0, 1376, 512, 256),
        new(ScalarType.Float32, true, true, 0.1, 1376, 512, 256), new(ScalarType.Float32, true, false, 0, 512, 1376, 256),
    ];

    private const double StepSize = 3e-3, Lr = 1e-2;

    public static (bool Ok, string Detail) Compare(Device device, FusedKernels kernels, Case c)
    {
        ArgumentNullException.ThrowIfNull(kernels);
        ArgumentNullException.ThrowIfNull(c);
        using var scope = NewDisposeScope();
        var gen = new Generator(31, CPU);
        var format = new QuantizedWeightFormat(c.GroupSize, 8);
        var w = GroupQuantizer.FakeQuantize((randn([c.Rows, c.Cols], generator: gen) * 0.05).to(c.DType), c.GroupSize, 8, null).to(device);
        var u = (randn([c.Rows, c.Cols], generator: gen) * 0.5).to(c.DType).to(device);
        var still = Math.Min(3L * c.GroupSize, w.numel() / 2);
        u.view(-1).narrow(0, c.GroupSize, still).zero_(); // whole groups without update
        ulong? key = c.Stochastic ? 0x5EEDUL : null;
        // torch's CPU add_ rounds alpha to the tensor's dtype; its CUDA add_ keeps float32, as the kernel does.
        float Alpha(double a) => device.type == TorchSharp.DeviceType.CPU ? tensor((float)a).to(c.DType).to(ScalarType.Float32).item<float>() : (float)a;
        var (alpha, decay) = (Alpha(-StepSize), c.WeightDecay > 0 ? Alpha(-Lr * c.WeightDecay) : 0f);
        void Apply(Tensor x, Tensor y) => LowRankAdam.Apply(x, y, StepSize, Lr, c.WeightDecay);
        if (c.Stored)
        {
            using var reference = QuantizedWeight.FromDense(w, format);
            using var fused = QuantizedWeight.FromDense(w, format);
            var before = reference.Codes.clone();
            var carrier = zeros_like(w);
            TiledRequantizer.Update(carrier, reference, u, Apply, format, key, tileElements: 4L * c.GroupSize);
            kernels.QGaLoreRequantize(carrier, fused, u, alpha, decay, format, key);
            var codes = reference.Codes.ne(fused.Codes).sum().item<long>();
            var scales = reference.Scales.ne(fused.Scales).sum().item<long>();
            var zeroPoints = reference.Zeros.ne(fused.Zeros).sum().item<long>();
            var moved = reference.Codes.ne(before).sum().item<long>();
            return (codes == 0 && scales == 0 && zeroPoints == 0 && moved > 0,
                $"codes differing {codes} of {w.numel()}, scales {scales}, zero points {zeroPoints} of {reference.Scales.numel()}; codes moved {moved}");
        }
        var expected = w.clone();
        var actual = w.clone();
        TiledRequantizer.Update(expected, null, u, Apply, format, key, tileElements: 4L * c.GroupSize);
        kernels.QGaLoreRequantize(actual, null, u, alpha, decay, format, key);
        var differing = expected.ne(actual).sum().item<long>();
        var changed = expected.ne(w).sum().item<long>();
        var kept = c.WeightDecay > 0 || actual.view(-1).narrow(0, c.GroupSize, still).eq(w.view(-1).narrow(0, c.GroupSize, still)).all().item<bool>();
        return (differing == 0 && changed > 0 && kept, $"values differing {differing} of {w.numel()}; changed {changed}; groups without update kept: {kept}");
    }
}
