using Harness.Core.Config;
using Harness.Core.Packs;
using Harness.Tests.Core;

namespace Harness.Tests.Packs;

public sealed class PackLoadingTests
{
    private static readonly string[] Papers = ["adam8bit", "forge", "galore", "gefen", "qgalore", "subtrackpp", "swan"];

    [Fact]
    public void All_seven_packs_load_with_their_experiments_at_every_scale()
    {
        var root = TestPaths.RepoRoot();
        Assert.Equal(Papers, PackLoader.Available(root));
        foreach (var paper in Papers)
        {
            var pack = PackLoader.Load(PackLoader.Find(paper, [root])!);
            Assert.Equal(paper, pack.Pack.Paper);
            Assert.Matches(@"^\d{4}\.\d{5}$", pack.Pack.Arxiv);
            Assert.True(pack.Pack.Claims.Count >= 2, $"{paper}: {pack.Pack.Claims.Count} claims");
            // Smoke runs on the CPU; the other scales ask for a GPU (no silent CPU fallback).
            foreach (var ((id, scale), config) in pack.Experiments)
                Assert.True(config.Device == (scale == PackScale.Smoke ? "cpu" : "cuda"), $"{paper}/{id} at {scale}: device {config.Device}");
            // Every claim either runs at smoke scale or says why not (needs, or its experiment's missing reason).
            foreach (var claim in pack.Pack.Claims)
                Assert.True(claim.WaitsOn().Count > 0 || pack.ExperimentOf(claim, PackScale.Smoke) is not null || pack.PackExperimentOf(claim).Missing is not null,
                    $"{paper}/{claim.Id}");
        }
        var galore = PackLoader.Load(PackLoader.Find("galore", [root])!);
        Assert.Equal(["G1-gap-60m", "G1-order-60m", "G2-state-60m", "G4-adamw-1b", "G4-adam8bit-1b", "G4-galore8bit-1b", "G4-ratio-1b",
            "G4-adafactor-1b", "G4-per-layer-1b", "G5-7b-8bit-per-layer"], galore.Pack.Claims.Select(c => c.Id));
        Assert.Equal(13.60, galore.Pack.Claims.Single(c => c.Id == "G4-adamw-1b").PaperValue);
        Assert.Equal("1b", ((Harness.Experiments.Workloads.LlamaSpec)galore.Experiments[("table11", PackScale.Paper)].Workload).Size);
    }

    /// <summary>The head of a hand-written test pack (the reproduce test's pack shares it).</summary>
    internal const string PackHeader = """
        paper: tiny
        title: "A tiny pack"
        arxiv: "0000.00000"
        reference_code: "none"
        citation: "none"

        """;

    private const string Experiment = """
        name: tiny-pack-exp
        device: cpu
        workload: { kind: llama }
        optimizers:
          - { kind: adamw }
          - { kind: adam8bit }
        """;

    private static string Pack(string claimTail) => PackHeader + $$"""
        experiments:
          - { id: e, smoke: exp.yaml, missing: "smoke only" }
        claims:
          - id: c1
            statement: "s"
            paper_value: 8
            unit: B/param
            source: "Table 1"
            url: https://example.org
            kind: memory
            experiment: e
        {{claimTail}}
        """;

    private static ConfigProblem LoadFails(string pack)
    {
        using var dir = new TestConfigs.TempDir();
        File.WriteAllText(Path.Combine(dir.Path, "exp.yaml"), Experiment);
        var path = Path.Combine(dir.Path, "pack.yaml");
        File.WriteAllText(path, pack);
        var e = Assert.Throws<ConfigException>(() => PackLoader.Load(path));
        var p = Assert.Single(e.Problems);
        Assert.Equal(path, p.Source);
        return p;
    }

    [Fact]
    public void An_unknown_key_is_an_error_with_file_line_and_column()
    {
        var p = LoadFails(Pack("""
                measure: { metrc: state_bytes, of: adamw, per_param: true }
                rule: { kind: exact }
            """));
        Assert.Equal((17, 16), (p.Line, p.Column));
        Assert.Contains("unknown key 'metrc' in claims[0].measure; did you mean 'metric'?", p.Message);
    }

    [Fact]
    public void A_label_the_experiment_lacks_is_an_error_at_the_measure()
    {
        var p = LoadFails(Pack("""
                measure: { metric: state_bytes, of: galore, per_param: true }
                rule: { kind: exact }
            """));
        Assert.Equal(17, p.Line);
        Assert.Contains("claims[0].measure.of: experiment 'e' at scale smoke", p.Message);
        Assert.Contains("no configuration labelled 'galore' (labels: adamw, adam8bit)", p.Message);
    }

    [Fact]
    public void A_rule_without_its_parameter_and_a_missing_file_are_errors()
    {
        var rule = LoadFails(Pack("""
                measure: { metric: state_bytes, of: adamw, per_param: true }
                rule: { kind: ratio }
            """));
        Assert.Equal(18, rule.Line);
        Assert.Contains("claims[0].rule.tolerance: rule ratio needs a tolerance > 0", rule.Message);
        var file = LoadFails(Pack("""
                measure: { metric: state_bytes, of: adamw, per_param: true }
                rule: { kind: exact }
            """).Replace("smoke: exp.yaml", "smoke: nope.yaml", StringComparison.Ordinal));
        Assert.Equal(7, file.Line);
        Assert.Contains("experiments[0].smoke: no such experiment file 'nope.yaml'", file.Message);
    }

    [Fact]
    public void Overrides_apply_to_the_experiments_of_one_scale()
    {
        var root = TestPaths.RepoRoot();
        var path = PackLoader.Find("gefen", [root])!;
        var pack = PackLoader.Load(path, PackScale.Smoke, ["training.steps=4"]);
        Assert.Equal(4, pack.Experiments[("parity", PackScale.Smoke)].Training.Steps);
        Assert.Equal(1000, pack.Experiments[("parity", PackScale.Reduced)].Training.Steps);
        var bad = Assert.Throws<ConfigException>(() => PackLoader.Load(path, PackScale.Smoke, ["training.stpes=2"]));
        Assert.All(bad.Problems, p => Assert.Contains("did you mean 'steps'?", p.Message));
    }
}
