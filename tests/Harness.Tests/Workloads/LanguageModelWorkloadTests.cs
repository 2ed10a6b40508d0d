using Harness.Experiments.Data;
using Harness.Experiments.Workloads;
using TorchSharp;
using static TorchSharp.torch;

namespace Harness.Tests.Workloads;

public sealed class LanguageModelWorkloadTests
{
    private static LanguageModelWorkload Tiny(int seed, int batch = 4, int seqLen = 32) =>
        new(new LlamaSpec { SeqLen = seqLen }, new WorkloadContext(seed, CPU, ScalarType.Float32, batch));

    /// <summary>A stream whose token at position i is i, so batch contents reveal where they were read.</summary>
    private static LanguageModelWorkload OnPositions(int length, int seqLen, int batch)
    {
        var spec = new LlamaSpec { SeqLen = seqLen, Hidden = 16, Heads = 2, Layers = 1, Ffn = 32 };
        var data = new TokenStream(Enumerable.Range(0, length).ToArray(), length, 0.1, seqLen + 1);
        return new LanguageModelWorkload(spec, new WorkloadContext(1, CPU, ScalarType.Float32, batch), data);
    }

    [Fact]
    public void Reports_tokens_per_batch_and_the_model_parameters()
    {
        using var w = Tiny(0, batch: 16, seqLen: 128);
        Assert.Equal(16 * 128, w.TokensPerBatch);
        Assert.Equal("tokens", w.ThroughputUnit);
        Assert.Equal(w.Config.ParameterCount, w.Parameters.Sum(p => p.Value.numel()));
        Assert.Equal("model.embed_tokens.weight", w.Parameters[0].Name);
        Assert.Equal("lm_head.weight", w.Parameters[^1].Name);
    }

    [Fact]
    public void Same_seed_gives_the_same_weights_and_batches_and_another_seed_does_not()
    {
        using var a = Tiny(7);
        using var b = Tiny(7);
        using var c = Tiny(8);
        Assert.True(a.Parameters[1].Value.equal(b.Parameters[1].Value).all().item<bool>());
        Assert.False(a.Parameters[1].Value.equal(c.Parameters[1].Value).all().item<bool>());
        var differs = false;
        foreach (var split in new[] { Split.Train, Split.Validation, Split.Train })
        {
            using var ba = a.NextBatch(split);
            using var bb = b.NextBatch(split);
            using var bc = c.NextBatch(split);
            Assert.True(ba.Inputs.equal(bb.Inputs).all().item<bool>());
            Assert.True(ba.Targets.equal(bb.Targets).all().item<bool>());
            differs |= !ba.Inputs.equal(bc.Inputs).all().item<bool>();
        }
        Assert.True(differs);
    }

    [Fact]
    public void Targets_are_the_inputs_shifted_by_one()
    {
        using var w = OnPositions(5000, 16, 8);
        using var batch = w.NextBatch(Split.Train);
        Assert.Equal([8L, 16L], batch.Inputs.shape);
        Assert.Equal(ScalarType.Int64, batch.Inputs.dtype);
        Assert.True(batch.Inputs.narrow(1, 1, 15).equal(batch.Targets.narrow(1, 0, 15)).all().item<bool>());
        Assert.True((batch.Targets - batch.Inputs).eq(1).all().item<bool>());   // positions: each target is the next token
    }

    [Fact]
    public void Training_batches_never_read_validation_tokens_and_evaluation_reads_only_them()
    {
        using var w = OnPositions(5000, 16, 8);
        var d = w.Data;
        for (var i = 0; i < 200; i++)
        {
            using var train = w.NextBatch(Split.Train);
            Assert.True(train.Targets.max().item<long>() < d.ValidationStart);
            using var val = w.NextBatch(Split.Validation);
            Assert.True(val.Inputs.min().item<long>() >= d.ValidationStart);
            Assert.True(val.Targets.max().item<long>() < d.Count);
        }
        var starts = w.ValidationWindowStarts(3);
        Assert.Equal(24, starts.Count);
        Assert.All(starts, s => Assert.InRange(s, d.ValidationStart, d.Count - d.Window));
        Assert.Equal(d.ValidationStart, starts[0]);
        Assert.Equal(d.Count - d.Window, starts[^1]);
    }

    [Fact]
    public void Evaluate_is_repeatable_restores_training_mode_and_reports_perplexity()
    {
        using var w = Tiny(1);
        var first = w.Evaluate(2);
        using (w.NextBatch(Split.Validation)) { }
        var second = w.Evaluate(2);
        Assert.Equal(first, second);
        Assert.Equal(Math.Exp(first.Loss), first.Perplexity!.Value, 12);
        Assert.Null(first.Accuracy);
        Assert.True(w.Model.training);
    }

    [Fact]
    public void Loss_at_init_is_close_to_log_vocab()
    {
        using var w = Tiny(2);
        Assert.InRange(w.Evaluate(2).Loss, Math.Log(256) - 0.1, Math.Log(256) + 0.1);
    }

    [Fact]
    public void Thirty_plain_SGD_steps_reduce_the_loss_without_leaking_tensors()
    {
        using var w = Tiny(3, batch: 8, seqLen: 64);
        var before = w.Evaluate(2).Loss;
        long? live = null;
        for (var step = 0; step < 30; step++)
        {
            using (var scope = NewDisposeScope())
            {
                using var batch = w.NextBatch(Split.Train);
                var loss = w.Loss(batch);
                loss.backward();
                using (no_grad())
                {
                    foreach (var p in w.Parameters)
                    {
                        p.Value.sub_(p.Value.grad!.mul(0.5));   // lr 0.5
                        p.Value.grad!.zero_();
                    }
                }
            }
            var now = DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount;
            if (step == 2) live = now;
            if (step > 2) Assert.Equal(live, now);
        }
        var after = w.Evaluate(2).Loss;
        Assert.True(after < before - 1.0, $"loss {before:F3} -> {after:F3}");
    }

    [Fact]
    public void A_validation_split_shorter_than_one_window_is_refused()
    {
        // 0.0001 of Moby Dick's 1,204,997 bytes is 120 tokens, less than one 513-token window.
        var spec = new LlamaSpec { SeqLen = 512, Data = new TextDataSpec { ValFraction = 0.0001 } };
        var tooShort = Assert.Throws<ArgumentException>(() => new LanguageModelWorkload(spec, new WorkloadContext(0, CPU, ScalarType.Float32, 2)));
        Assert.Contains("shorter than one window of 513 tokens", tooShort.Message);

        var data = new TokenStream(Enumerable.Range(0, 100).ToArray(), 100, 0.2, 11);
        var mismatch = Assert.Throws<ArgumentException>(() =>
            new LanguageModelWorkload(new LlamaSpec { SeqLen = 16 }, new WorkloadContext(0, CPU, ScalarType.Float32, 2), data));
        Assert.Contains("seq_len 16", mismatch.Message);
    }

    [Fact]
    public void Evaluate_and_batches_leave_no_tensors_behind()
    {
        using var w = Tiny(4);
        w.Evaluate(1);
        var live = DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount;
        w.Evaluate(2);
        using (w.NextBatch(Split.Train)) { }
        using (w.NextBatch(Split.Validation)) { }
        Assert.Equal(live, DisposeScopeManager.Statistics.TensorStatistics.ThreadTotalLiveCount);
    }
}
