using Harness.Experiments.Workloads;
using Harness.Optimizers;
using Harness.Optimizers.Adam8bit;
using Harness.Tests.Core;
using static TorchSharp.torch;

namespace Harness.Tests.Quantization;

public sealed class Adam8bitEmbeddingTests
{
    [Fact]
    public void Fp32_embedding_keeps_32_bit_state_for_the_embedding_role_only_and_the_formula_agrees()
    {
        using var workload = new LanguageModelWorkload(TestConfigs.TinyLlama(), new WorkloadContext(0, CPU, ScalarType.Float32, 2));
        var descriptor = OptimizerCatalog.Find("adam8bit")!;
        foreach (var fp32Embedding in new[] { false, true })
        {
            var options = new Adam8bitOptions { Fp32Embedding = fp32Embedding, Min8BitSize = 1024 };
            using var optimizer = new Adam8bit(workload.Parameters, options);
            using (var scope = NewDisposeScope())
            {
                foreach (var p in workload.Parameters) p.Value.grad = randn_like(p.Value) * 0.01;
                optimizer.Step(1e-3);
                optimizer.ZeroGrad();
            }
            Assert.Equal(descriptor.ExpectedStateBytes(workload.Parameters, options), optimizer.StateBytes);
            var embedding = workload.Parameters.Single(p => p.Role == ParamRole.Embedding);
            using var scope2 = NewDisposeScope();
            var state = optimizer.StateDict();
            // 32-bit state is stored as exp_avg/exp_avg_sq; 8-bit as codes (state1/state2) with absmax.
            Assert.Equal(fp32Embedding, state.ContainsKey($"{embedding.Name}/exp_avg"));
            Assert.Equal(!fp32Embedding, state.ContainsKey($"{embedding.Name}/state1"));
            Assert.All(workload.Parameters.Where(p => p.Role == ParamRole.Matrix && p.Value.numel() >= 1024),
                p => Assert.True(state.ContainsKey($"{p.Name}/state1")));
        }
    }
}
