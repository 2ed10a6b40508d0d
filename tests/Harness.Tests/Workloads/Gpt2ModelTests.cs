using Harness.Experiments.Data;
using Harness.Experiments.Models;
using Harness.Experiments.Workloads;
using Harness.Optimizers;
using static TorchSharp.torch;

namespace Harness.Tests.Workloads;

public sealed class Gpt2ModelTests
{
    [Fact]
    public void Gpt2_small_has_124_439_808_parameters_with_tied_embeddings()
    {
        var config = Gpt2Config.Resolve("small", 50257);
        Assert.Equal(124_439_808L, config.ParameterCount);
        using var init = new Generator(0, CPU);
        using var model = new Gpt2(config, init);
        Assert.Equal(124_439_808L, model.NamedParameters().Sum(p => p.Value.numel()));
    }

    [Fact]
    public void Roles_follow_structure_and_names_follow_hf()
    {
        using var init = new Generator(0, CPU);
        using var model = new Gpt2(Gpt2Config.Resolve("tiny", 300), init);
        var roles = model.NamedParameters().ToDictionary(p => p.Name, p => p.Role);
        Assert.Equal(ParamRole.Embedding, roles["transformer.wte.weight"]);
        Assert.Equal(ParamRole.Embedding, roles["transformer.wpe.weight"]);
        Assert.Equal(ParamRole.Matrix, roles["transformer.h.0.attn.c_attn.weight"]);
        Assert.Equal(ParamRole.Matrix, roles["transformer.h.1.mlp.c_proj.weight"]);
        Assert.Equal(ParamRole.Vector, roles["transformer.h.0.attn.c_attn.bias"]);
        Assert.Equal(ParamRole.Vector, roles["transformer.h.0.ln_1.weight"]);
        Assert.Equal(ParamRole.Vector, roles["transformer.ln_f.bias"]);
        Assert.DoesNotContain(ParamRole.OutputHead, roles.Values); // the head is the token table
        Assert.Equal(2 * 4, roles.Values.Count(r => r == ParamRole.Matrix));
        Assert.Equal(model.Config.ParameterCount, model.NamedParameters().Sum(p => p.Value.numel()));
    }

    [Fact]
    public void Logits_at_a_position_do_not_depend_on_later_tokens()
    {
        using var init = new Generator(3, CPU);
        using var model = new Gpt2(new Gpt2Config(50, 32, 2, 4, 16), init);
        using var a = tensor(new long[] { 1, 2, 3, 4, 5, 6 }).view(1, 6);
        using var b = tensor(new long[] { 1, 2, 3, 9, 9, 9 }).view(1, 6);
        using var la = model.forward(a);
        using var lb = model.forward(b);
        Assert.True(la.narrow(1, 0, 3).allclose(lb.narrow(1, 0, 3), 1e-6, 1e-6));
        Assert.False(la.narrow(1, 3, 1).allclose(lb.narrow(1, 3, 1), 1e-6, 1e-6));
    }

    [Fact]
    public void Workload_trains_gpt2_tiny_from_log_vocab_loss_and_refuses_sequences_beyond_context()
    {
        var spec = new Gpt2Spec { SeqLen = 32, Data = new TextDataSpec { Tokenizer = "byte" } };
        using var w = new LanguageModelWorkload(spec, new WorkloadContext(0, CPU, ScalarType.Float32, 4));
        Assert.Equal(w.Config.ParameterCount, w.Parameters.Sum(p => p.Value.numel()));
        Assert.InRange(w.Evaluate(2).Loss, Math.Log(256) - 0.3, Math.Log(256) + 0.3);

        var tooLong = new Gpt2Spec { SeqLen = 200, Data = new TextDataSpec { Tokenizer = "byte" } };
        var problem = Assert.Single(tooLong.Validate());
        Assert.Equal("seq_len", problem.Key);
        Assert.Contains("context of 128", problem.Message);
    }
}
