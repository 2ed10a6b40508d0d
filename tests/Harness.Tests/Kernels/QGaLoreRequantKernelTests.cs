using Harness.Optimizers.Kernels;
using Harness.Optimizers.LowRank;
using Harness.Optimizers.Quantization;
using static TorchSharp.torch;

namespace Harness.Tests.Kernels;

/// <summary>Q-GaLore's fused weight write-back (host-emulated <c>hk_qgalore_requant</c>) against the tiled tensor-ops one.</summary>
[Collection(EmulatedKernels.Collection)]
public sealed class QGaLoreRequantKernelTests(EmulatedKernels emulated)
{
    private const double StepSize = 3e-3, Lr = 1e-2;

    // 37×29 = 1073 elements: 16 full groups of 64 and a short last one; rows 5..9 get no update (unchanged groups).
    private static (Tensor W, Tensor U) Data(ScalarType dtype, ulong seed)
    {
        var gen = new Generator(seed);
        var w = (randn([37, 29], generator: gen) * 0.05).to(dtype);
        var u = (randn([37, 29], generator: gen) * 0.5).to(dtype);
        u.view(-1)[128..320] = zeros([192], dtype); // groups 2..4: no update
        return (w, u);
    }

    [Theory]
    [InlineData(ScalarType.Float32, true, 0.1)]
    [InlineData(ScalarType.Float32, false, 0.0)]
    [InlineData(ScalarType.BFloat16, true, 0.1)]
    public void Dense_weights_get_the_grid_values_of_the_tensor_ops_write_back(ScalarType dtype, bool stochastic, double wd)
    {
        using var scope = NewDisposeScope();
        var format = new QuantizedWeightFormat(64, 8);
        ulong? key = stochastic ? 0x5EEDUL : null;
        var (w, u) = Data(dtype, 3);
        w = GroupQuantizer.FakeQuantize(w, 64, 8, null); // on the grid, as Q-GaLore's weights are
        var reference = w.clone();
        var fused = w.clone();
        TiledRequantizer.Update(reference, null, u, (x, y) => LowRankAdam.Apply(x, y, StepSize, Lr, wd), format, key, tileElements: 256);
        // torch's CPU add_ rounds alpha to the tensor's dtype (bf16 here); its CUDA add_ keeps it in float32, which is what the
        // kernel takes from Q-GaLore on a GPU. The emulated kernel is given the CPU reference's alpha.
        float A(double a) => dtype == ScalarType.BFloat16 ? tensor((float)a).to(ScalarType.BFloat16).to(ScalarType.Float32).item<float>() : (float)a;
        emulated.Kernels.QGaLoreRequantize(fused, null, u, A(-StepSize), wd > 0 ? A(-Lr * wd) : 0f, format, key);

        Assert.True(reference.eq(fused).all().item<bool>(), $"max |difference| {(reference.to(ScalarType.Float32) - fused.to(ScalarType.Float32)).abs().max().item<float>():e3}");
        Assert.True(reference.ne(w).any().item<bool>(), "nothing moved");
        if (wd == 0) Assert.True(fused.view(-1)[128..320].eq(w.view(-1)[128..320]).all().item<bool>(), "a group without update changed");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Stored_weights_get_the_codes_scales_and_zero_points_of_the_tensor_ops_write_back(bool stochastic)
    {
        using var scope = NewDisposeScope();
        var format = new QuantizedWeightFormat(64, 8);
        ulong? key = stochastic ? 0xC0FFEEUL : null;
        var (w, u) = Data(ScalarType.Float32, 5);
        using var reference = QuantizedWeight.FromDense(w, format);
        using var fused = QuantizedWeight.FromDense(w, format);
        var before = reference.Codes.clone();
        var carrier = zeros_like(w);
        TiledRequantizer.Update(carrier, reference, u, (x, y) => LowRankAdam.Apply(x, y, StepSize, Lr, 0.1), format, key, tileElements: 128);
        emulated.Kernels.QGaLoreRequantize(carrier, fused, u, (float)-StepSize, (float)(-Lr * 0.1), format, key);

        Assert.Equal(reference.Codes.data<byte>().ToArray(), fused.Codes.data<byte>().ToArray());
        Assert.Equal(reference.Scales.data<float>().ToArray(), fused.Scales.data<float>().ToArray());
        Assert.Equal(reference.Zeros.data<byte>().ToArray(), fused.Zeros.data<byte>().ToArray());
        Assert.True(reference.Codes.ne(before).any().item<bool>(), "no code changed");
    }

    [Fact]
    public void Bad_arguments_are_refused_with_the_reason()
    {
        using var scope = NewDisposeScope();
        var (w, u) = Data(ScalarType.Float32, 7);
        var e = Assert.Throws<ArgumentException>(() => emulated.Kernels.QGaLoreRequantize(w, null, u.t(), 1f, 0f, QuantizedWeightFormat.Int8Group256, null));
        Assert.Contains("contiguous", e.Message);
        var big = Assert.Throws<InvalidOperationException>(() => emulated.Kernels.QGaLoreRequantize(w, null, u, 1f, 0f, new QuantizedWeightFormat(8192, 8), null));
        Assert.Contains("group_size", big.Message);
    }
}
