using Harness.Core.Devices;
using Harness.Core.Packs;
using Harness.Core.Running;
using Harness.Reports.Claims;
using Harness.Results;
using Harness.Tests.Core;
using static TorchSharp.torch;

namespace Harness.Tests.Packs;

/// <summary>
/// A claim's <c>needs</c> names features the harness declares (<see cref="HarnessFeatures"/>): no pack may still wait
/// on one that exists, and claims that waited on [2.4]'s features (per-layer updates, GPT-2 under FORGE, Adafactor)
/// run at smoke scale.
/// </summary>
public sealed class PackFeatureTests
{
    [Fact]
    public void No_claim_of_any_pack_waits_on_a_feature_the_harness_has()
    {
        var root = TestPaths.RepoRoot();
        var waiting = new List<string>();
        foreach (var paper in PackLoader.Available(root))
        {
            var pack = PackLoader.Load(PackLoader.Find(paper, [root])!);
            foreach (var claim in pack.Pack.Claims)
                foreach (var need in claim.Needs)
                {
                    var feature = HarnessFeatures.Find(need);
                    Assert.True(feature is { Available: false }, $"{paper}/{claim.Id} waits on '{need}', which the harness has: remove it from needs");
                    waiting.Add($"{paper}/{claim.Id}:{need}");
                }
        }
        // What still waits, and on what.
        Assert.Equal(["adam8bit/E4-linear:adam8bit_linear_map", "adam8bit/E4-stable-embedding:cross_experiment_measure"], waiting);
        Assert.Equal(HarnessFeatures.All.Count, HarnessFeatures.All.Select(f => f.Id).Distinct().Count());
    }

    [Fact]
    public void A_needed_feature_the_harness_does_not_declare_is_an_error_at_its_line()
    {
        using var dir = new TestConfigs.TempDir();
        File.WriteAllText(Path.Combine(dir.Path, "exp.yaml"), "name: feature-exp\ndevice: cpu\nworkload: { kind: llama }\noptimizers:\n  - { kind: adamw }\n");
        var path = Path.Combine(dir.Path, "pack.yaml");
        File.WriteAllText(path, PackLoadingTests.PackHeader + """
            experiments:
              - { id: e, smoke: exp.yaml, missing: "smoke only" }
            claims:
              - { id: c, statement: "s", paper_value: 1, unit: GB, source: "T1", url: "https://example.org", kind: memory, experiment: e,
                  measure: { metric: state_bytes, of: adamw }, rule: { kind: ratio, tolerance: 0.1 }, needs: [per_layer_updates, gqa] }
            """);
        var p = Assert.Single(Assert.Throws<Harness.Core.Config.ConfigException>(() => PackLoader.Load(path)).Problems);
        Assert.Equal((path, 10), (p.Source, p.Line));
        Assert.Contains("needs[1]: unknown feature 'gqa' (one of: per_layer_updates, grouped_query_attention,", p.Message);
    }

    [Fact]
    public void Claims_that_waited_on_per_layer_updates_gpt2_forge_and_adafactor_run_at_smoke_scale()
    {
        var root = TestPaths.RepoRoot();
        using var dir = new TestConfigs.TempDir();
        var runs = Path.Combine(dir.Path, "runs");
        var runner = new PackRunner(new ResultStore(runs), new NullRunObserver());
        var rows = new Dictionary<string, ClaimRow>();
        foreach (var (paper, experiments) in new[] { ("forge", new[] { "gpt2-parity" }), ("galore", new[] { "table11", "llama7b" }) })
        {
            var pack = PackLoader.Load(PackLoader.Find(paper, [root])!);
            var plans = PackRunner.Plan(pack, PackScale.Smoke, "cpu").Where(p => experiments.Contains(p.ExperimentId)).ToList();
            Assert.Equal(experiments, plans.Select(p => p.ExperimentId));
            Assert.All(plans.SelectMany(p => p.Runs), r => Assert.Null(r.SkipReason));
            var results = runner.Run(plans, DeviceSession.Basic(CPU), ProvenanceProbe.Collect(CPU), CancellationToken.None);
            Assert.All(results, r => Assert.True(r.AllCompleted));
            foreach (var row in ClaimsReport.Judge(pack, PackScale.Smoke, runs, plans, null)) rows[row.Claim] = row;
        }

        // FORGE on GPT-2 (its dense layers routed, biases outside): with fp32 state FORGE applies AdamW's rule, so the
        // two seeds' final losses agree to float rounding; the tokens/s ratio is a CPU number, measured.
        var parity = rows["FG7-parity-124m"];
        Assert.Equal((ClaimVerdicts.Smoke, "2 vs 2"), (parity.Verdict, parity.Seeds));
        Assert.InRange(parity.MeasuredValue!.Value, -1e-4, 1e-4);
        var speed = rows["FG7-speed-124m"];
        Assert.Equal(ClaimVerdicts.Smoke, speed.Verdict);
        Assert.InRange(speed.MeasuredValue!.Value, 0.05, 20);
        // The per-layer and Adafactor runs complete; the CPU measures no allocator peak, and the verdict says exactly that.
        foreach (var (claim, label) in new[] { ("G4-per-layer-1b", "galore-8bit-per-layer"), ("G4-adafactor-1b", "adafactor"), ("G5-7b-8bit-per-layer", "galore-8bit") })
            Assert.Equal($"not run: '{label}' has no train_step_peak_bytes (not measured on cpu)", rows[claim].Verdict);
    }
}
