using Harness.Core.Checks;
using Harness.Optimizers.Quantization;
using static TorchSharp.torch;

namespace Harness.Tests.Kernels;

/// <summary>Q-GaLore's fused weight write-back (host-emulated <c>hk_qgalore_requant</c>) against the tiled tensor-ops one.</summary>
[Collection(EmulatedKernels.Collection)]
public sealed class QGaLoreRequantKernelTests(EmulatedKernels emulated)
{
    public static TheoryData<int> Cases => new(Enumerable.Range(0, QGaLoreRequantEquivalence.SmallCases.Count));

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_fused_write_back_equals_the_tensor_ops_one(int index)
    {
        var c = QGaLoreRequantEquivalence.SmallCases[index];
        var (ok, detail) = QGaLoreRequantEquivalence.Compare(CPU, emulated.Kernels, c);
        Assert.True(ok, $"{c}: {detail}");
    }

    [Fact]
    public void Bad_arguments_are_refused_with_the_reason()
    {
        using var scope = NewDisposeScope();
        var w = randn([8, 64]);
        var e = Assert.Throws<ArgumentException>(() => emulated.Kernels.QGaLoreRequantize(w, null, randn([64, 8]).t(), 1f, 0f, QuantizedWeightFormat.Int8Group256, null));
        Assert.Contains("contiguous", e.Message);
        var big = Assert.Throws<InvalidOperationException>(() => emulated.Kernels.QGaLoreRequantize(w, null, randn([8, 64]), 1f, 0f, new QuantizedWeightFormat(8192, 8), null));
        Assert.Contains("group_size", big.Message);
    }
}
