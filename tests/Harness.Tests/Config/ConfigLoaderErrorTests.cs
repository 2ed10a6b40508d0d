using System.Diagnostics;
using System.Text;
using Harness.Core.Config;
using static Harness.Tests.Config.ConfigTestKit;

namespace Harness.Tests.Config;

/// <summary>Each test feeds one broken input and checks where the loader points and what it says.</summary>
public sealed class ConfigLoaderErrorTests
{
    // ---- malformed YAML and hostile input ----

    [Fact]
    public void BadIndentation()
    {
        var p = Single("""
            name: t
            workload:
              kind: llama
               size: tiny
            optimizers: [{ kind: adamw }]
            """, 4, null, "invalid YAML");
        Assert.DoesNotContain("Line:", p.Message);
    }

    [Fact]
    public void UnclosedBracket() =>
        Single("""
            name: t
            seeds: [0, 1
            workload: { kind: llama }
            """, 2, 8, "never closed (missing ']' or '}'?)");

    [Fact]
    public void TabIndentation() =>
        Single("name: t\nworkload:\n\tkind: llama\noptimizers: [{ kind: adamw }]\n", 3, 1, "tab character in indentation");

    [Fact]
    public void EmptyFile()
    {
        Single("", 1, 1, "the config is empty");
        Single("# only a comment\n", 1, 1, "the config is empty");
    }

    [Fact]
    public void TopLevelListIsNotAConfig() => Single("- a\n- b\n", 1, 1, "expected a mapping of settings at the top level, got a list");

    [Fact]
    public void MultipleDocuments() =>
        Single(Minimal + "\n---\nname: second\n", 5, 1, "one YAML document");

    [Fact]
    public void DuplicateKeys()
    {
        var problems = Problems("""
            name: t
            workload: { kind: llama }
            optimizers: [{ kind: adamw }]
            training:
              steps: 10
              steps: 20
            name: u
            """);
        Assert.Equal(2, problems.Count);
        AssertAt(problems[0], 6, 3, "duplicate key 'steps' (first given at line 5)");
        AssertAt(problems[1], 7, 1, "duplicate key 'name' (first given at line 1)");
    }

    [Fact]
    public void AliasBombFailsFast()
    {
        var yaml = new StringBuilder("name: t\nworkload: { kind: llama }\noptimizers: [{ kind: adamw }]\n");
        yaml.Append("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for (var c = 'b'; c <= 'j'; c++)
            yaml.Append($"{c}: &{c} [{string.Join(", ", Enumerable.Repeat($"*{(char)(c - 1)}", 9))}]\n");
        var watch = Stopwatch.StartNew();
        // a..d expand to 8,289 nodes in all; the first alias on line 8 (e:) would add 7,381 more.
        Single(yaml.ToString(), 8, 8, "aliases expand to more than 10,000 nodes");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"took {watch.Elapsed}");
    }

    [Fact]
    public void DeeplyNestedInput()
    {
        var yaml = "name: t\nx: " + new string('[', 200) + new string(']', 200) + "\n";
        Single(yaml, 2, 4 + 63, "nesting deeper than 64 levels");
    }

    [Fact]
    public void HugeScalar()
    {
        var yaml = Minimal + "\ndescription: " + new string('x', 70_000) + "\n";
        Single(yaml, 5, 14, "value is 70,000 characters long; the limit is 65,536");
    }

    [Fact]
    public void OversizedText() =>
        Single(Minimal + "\n#" + new string('x', 1_100_000), 1, 1, "limit for a config");

    [Fact]
    public void OversizedFileIsRefusedBeforeReading()
    {
        var path = TempFile(Encoding.UTF8.GetBytes("#" + new string('x', (1 << 20) + 10)));
        try
        {
            var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path));
            AssertAt(Assert.Single(e.Problems), 1, 1, "config files are limited to 1,048,576 bytes", path);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void BinaryGarbage()
    {
        var nul = TempFile([.. "name: t\nab"u8, 0x00, 0x13, 0xFF]);
        var badUtf8 = TempFile([.. "name: t\nworkload: x\ndescription: ab"u8, 0xC3, 0x28, .. "\n"u8]);
        try
        {
            var e1 = Assert.Throws<ConfigException>(() => ConfigLoader.Load(nul));
            AssertAt(Assert.Single(e1.Problems), 2, 3, "binary garbage", nul);
            var e2 = Assert.Throws<ConfigException>(() => ConfigLoader.Load(badUtf8));
            AssertAt(Assert.Single(e2.Problems), 3, 16, "not valid UTF-8", badUtf8);
            // Control characters in text handed to Parse count as garbage too.
            Single("name: t\u0001\n", 1, 8, "binary garbage");
        }
        finally { File.Delete(nul); File.Delete(badUtf8); }
    }

    [Fact]
    public void MissingFile()
    {
        var path = Path.Combine(Path.GetTempPath(), $"no-such-{Guid.NewGuid():N}.yaml");
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Load(path));
        AssertAt(Assert.Single(e.Problems), 1, 1, "config file not found", path);
        Assert.StartsWith($"{path}:1:1: ", e.Message);
    }

    // ---- wrong types ----

    [Fact]
    public void StringForInteger() =>
        Single(Minimal + "\ntraining:\n  steps: abc\n", 6, 10, "training.steps: expected an integer, got 'abc'");

    [Fact]
    public void FractionAndOverflowForInteger()
    {
        var problems = Problems(Minimal + "\ntraining: { steps: 1.5, batch_size: 99999999999 }\n");
        Assert.Equal(2, problems.Count);
        AssertAt(problems[0], 5, 20, "training.steps: expected an integer, got '1.5'");
        AssertAt(problems[1], 5, 37, "training.batch_size: integer out of range");
    }

    [Fact]
    public void QuotedNumberIsAString() =>
        Single(Minimal + "\ntraining: { steps: \"5\" }\n", 5, 20, "got the quoted string '5'");

    [Fact]
    public void ListForScalar() =>
        Single(Minimal.Replace("name: t", "name: [a, b]"), 1, 7, "name: expected a string, got a list");

    [Fact]
    public void MappingForList() =>
        Single(Minimal + "\nseeds: { a: 1 }\n", 5, 8, "seeds: expected a list, got a mapping");

    [Fact]
    public void BadEnumValueListsTheNames() =>
        Single(Minimal + "\nstep_mode: fused\n", 5, 12, "step_mode: expected one of standard, fused_backward, per_layer, got 'fused'");

    // ---- out of range ----

    [Fact]
    public void NegativeLearningRate() =>
        Single(Minimal + "\n    lr: -1.0e-3\n", 5, 9, "optimizers[0].lr: must be > 0 (got -0.001)");

    [Fact]
    public void BetaAtOne() =>
        Single(Minimal + "\n    betas: [0.9, 1.0]\n", 5, 18, "optimizers[0].betas[1]: must be in [0, 1) (got 1)");

    [Theory]
    [InlineData(".nan")]
    [InlineData(".inf")]
    [InlineData("-.Inf")]
    [InlineData("1e999")]
    public void NonFiniteNumbers(string value) =>
        Single(Minimal + $"\n    eps: {value}\n", 5, 10, $"optimizers[0].eps: must be a finite number (got '{value}')");

    [Fact]
    public void ZeroSteps() =>
        Single(Minimal + "\ntraining: { steps: 0, timing_warmup_steps: 0 }\n", 5, 20, "training.steps: must be >= 1 (got 0)");

    [Fact]
    public void ValFractionTooLargeIsReportedOnce() =>
        Single("""
            name: t
            workload:
              kind: llama
              data:
                val_fraction: 0.7
            optimizers: [{ kind: adamw }]
            """, 5, 19, "workload.data.val_fraction: must be in (0, 0.5) (got 0.7)");

    [Fact]
    public void TimingWarmupNotBelowSteps() =>
        Single(Minimal + "\ntraining: { steps: 5, timing_warmup_steps: 5 }\n", 5, 44, "training.timing_warmup_steps: must be < steps (5)");

    [Fact]
    public void DefaultedKeyAtFaultPointsAtItsSection() =>
        // steps given, timing_warmup_steps left at its default 5: the problem is the section's.
        Single(Minimal + "\ntraining:\n  steps: 3\n", 6, 3, "training.timing_warmup_steps: must be < steps (3)");

    // ---- kinds, keys, required sections ----

    [Fact]
    public void UnknownOptimizerKindListsKnownKinds() =>
        Single(Minimal.Replace("kind: adamw", "kind: adamx"), 4, 11, "optimizers[0].kind: unknown optimizer kind 'adamx'; known kinds: adamw, lion");

    [Fact]
    public void UnknownWorkloadKind() =>
        Single(Minimal.Replace("kind: llama", "kind: gpt9"), 2, 19, "workload.kind: unknown workload kind 'gpt9'; known kinds: llama, gpt2, mlp, cnn, vit");

    [Fact]
    public void MissingKinds()
    {
        var problems = Problems("""
            name: t
            workload: { size: tiny }
            optimizers:
              - lr: 1.0e-3
            """);
        Assert.Equal(2, problems.Count);
        AssertAt(problems[0], 2, 11, "workload: missing required key 'kind' (known workload kinds: llama, gpt2, mlp, cnn, vit)");
        AssertAt(problems[1], 4, 5, $"optimizers[0]: missing required key 'kind' (known optimizer kinds: {string.Join(", ", Harness.Optimizers.OptimizerCatalog.All.Select(d => d.Kind))})");
    }

    [Fact]
    public void UnknownKeyWithSuggestion() =>
        Single(Minimal + "\ntraining:\n  stpes: 10\n", 6, 3, "unknown key 'stpes' in training; did you mean 'steps'?");

    [Fact]
    public void UnknownKeyInNestedSection() =>
        Single("""
            name: t
            workload:
              kind: llama
              data: { tokeniser: gpt2 }
            optimizers: [{ kind: adamw }]
            """, 4, 11, "unknown key 'tokeniser' in workload.data; did you mean 'tokenizer'?");

    [Fact]
    public void UnknownKeyFarFromAnyListsValidKeys() =>
        Single(Minimal + "\n    momentum: 0.9\n", 5, 5, "unknown key 'momentum' in optimizers[0]; valid keys: lr, betas, eps, weight_decay");

    [Fact]
    public void SourcePathIsNotAYamlKey() =>
        Single(Minimal + "\nsource_path: x\n", 5, 1, "unknown key 'source_path' at the top level");

    [Theory]
    [InlineData("name: t\nworkload: { kind: llama }\n", "'optimizers'")]
    [InlineData("name: t\noptimizers: [{ kind: adamw }]\n", "'workload'")]
    [InlineData("workload: { kind: llama }\noptimizers: [{ kind: adamw }]\n", "'name'")]
    public void MissingRequiredSection(string yaml, string key) => Single(yaml, 1, 1, $"missing required key {key}");

    [Fact]
    public void EmptyOptimizerList() => Single("name: t\nworkload: { kind: llama }\noptimizers: []\n", 3, 13, "optimizers: needs at least one entry");

    // ---- top-level checks ----

    [Fact]
    public void BadDevice() => Single(Minimal + "\ndevice: gpu0\n", 5, 9, "device: expected auto, cpu, cuda or cuda:N, got 'gpu0'");

    [Fact]
    public void BadSeeds()
    {
        var problems = Problems(Minimal + "\nseeds: [0, 1, 0, -2]\n");
        Assert.Equal(2, problems.Count);
        AssertAt(problems[0], 5, 15, "seeds[2]: duplicate seed 0 (also seeds[0])");
        AssertAt(problems[1], 5, 18, "seeds[3]: must be >= 0 (got -2)");
        Single(Minimal + "\nseeds: []\n", 5, 8, "seeds: needs at least one seed");
    }

    [Fact]
    public void BadName() => Single(Minimal.Replace("name: t", "name: ../escape"), 1, 7, "name: must match");

    // ---- sweeps ----

    [Fact]
    public void SweepOverUnknownKey() =>
        Single(Minimal + "\n    sweep: { lrr: [1, 2] }\n", 5, 14, "optimizers[0].sweep.lrr: 'lrr' is not an option of adamw; did you mean 'lr'?");

    [Fact]
    public void SweepOverKind() =>
        Single(Minimal + "\n    sweep: { kind: [adamw, lion] }\n", 5, 14, "'kind' cannot be swept");

    [Fact]
    public void EmptySweepList() =>
        Single(Minimal + "\n    sweep: { lr: [] }\n", 5, 18, "optimizers[0].sweep.lr: a sweep needs at least one value");

    [Fact]
    public void InvalidSweepValuePointsAtThatValue() =>
        Single(Minimal + """

                sweep:
                  lr:
                    - 1.0e-3
                    - -5
                    - 3.0e-3
            """, 8, 11, "optimizers[0].sweep.lr[1]: must be > 0 (got -5)");

    [Fact]
    public void SweepValueOfWrongTypePointsAtThatValue() =>
        Single(Minimal + "\n    sweep: { weight_decay: [0.0, lots] }\n", 5, 34, "optimizers[0].sweep.weight_decay[1]: expected a number, got 'lots'");

    // ---- --set overrides ----

    [Fact]
    public void OverrideWithUnknownKey()
    {
        var p = Single(Minimal, 1, 10, "unknown key 'stpes' in training; did you mean 'steps'?", "training.stpes=5");
        Assert.Equal("--set training.stpes=5", p.Source);
        Assert.Equal("--set training.stpes=5:1:10: unknown key 'stpes' in training; did you mean 'steps'?", p.ToString());
    }

    [Fact]
    public void OverrideWithBadValueType()
    {
        var p = Single(Minimal, 1, 16, "training.steps: expected an integer, got 'abc'", "training.steps=abc");
        Assert.Equal("--set training.steps=abc", p.Source);
    }

    [Fact]
    public void OverrideWithoutEquals()
    {
        var p = Single(Minimal, 1, 1, "expected KEY.PATH=VALUE", "training.steps");
        Assert.Equal("--set training.steps", p.Source);
    }

    [Fact]
    public void OverrideWithEmptyPath() => Single(Minimal, 1, 1, "empty key path", "=5");

    [Fact]
    public void OverrideIndexOutOfRange() =>
        Single(Minimal, 1, 12, "index 3 is out of range: 'optimizers' has 1 entries", "optimizers.3.lr=1");

    [Fact]
    public void OverrideThroughAScalar() =>
        Single(Minimal, 1, 1, "'name' is a value, not a section", "name.first=x");

    [Fact]
    public void OverrideWithMalformedValue() =>
        // Reported at the end of the override text, where the closing bracket is missing.
        Single(Minimal, 1, 12, "invalid YAML", "seeds=[0, 1");

    [Fact]
    public void OverrideValueIsValidatedLikeTheFile() =>
        Single(Minimal, 1, 26, "optimizers[0].betas[1]: must be in [0, 1) (got 1.5)", "optimizers.0.betas=[0.9, 1.5]");

    [Fact]
    public void ActivationCheckpointingOnAWorkloadWithoutCheckpointedBlocks() =>
        Single("""
            name: t
            workload: { kind: gpt2 }
            training:
              activation_checkpointing: true
            optimizers: [{ kind: adamw }]
            """, 4, null, "training.activation_checkpointing: only the llama workload checkpoints its decoder layers; this workload is 'gpt2'");

    // ---- everything at once ----

    [Fact]
    public void ThreeIndependentProblemsAreAllReported()
    {
        var problems = Problems("""
            name: t
            workload: { kind: llama, seq_len: 1 }
            training:
              steps: abc
            optimizers:
              - { kind: adamw, weight_decay: -0.1 }
            """);
        Assert.Equal(3, problems.Count);
        AssertAt(problems[0], 2, 35, "workload.seq_len: must be >= 2 (got 1)");
        AssertAt(problems[1], 4, 10, "training.steps: expected an integer, got 'abc'");
        AssertAt(problems[2], 6, 34, "optimizers[0].weight_decay: must be >= 0 (got -0.1)");
    }

    private static string TempFile(byte[] bytes)
    {
        var path = Path.Combine(Path.GetTempPath(), $"harness-config-{Guid.NewGuid():N}.yaml");
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
