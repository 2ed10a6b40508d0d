using Harness.Core.Devices;
using Harness.Core.Packs;
using Harness.Results;
using Harness.Core.Running;
using Harness.Reports.Claims;
using Harness.Tests.Core;
using static TorchSharp.torch;

namespace Harness.Tests.Packs;

/// <summary>
/// <c>reproduce</c> in-process on a tiny synthetic pack: plan, run (two optimizers x two seeds, 3 steps), judge and
/// write; then again, reusing every run.
/// </summary>
public sealed class ReproduceEndToEndTests
{
    private const string Experiment = """
        name: tiny-reproduce
        device: cpu
        seeds: [0, 1]
        workload:
          kind: llama
          size: tiny
          hidden: 32
          layers: 1
          heads: 2
          ffn: 64
          seq_len: 16
          data: { corpus: moby-dick, tokenizer: byte, val_fraction: 0.05 }
        training: { steps: 3, batch_size: 2, log_every: 1, eval_every: 0, eval_batches: 1, timing_warmup_steps: 1 }
        optimizers:
          - { kind: adamw, lr: 3.0e-3 }
          - { kind: adam8bit, lr: 3.0e-3, min_8bit_size: 0 }
        """;

    private const string Pack = PackLoadingTests.PackHeader + """
        experiments:
          - { id: e, smoke: exp.yaml, missing: "smoke only" }
          - { id: gpu, paper: exp-gpu.yaml, missing: "paper only" }
        claims:
          - { id: adamw-bytes, statement: "8 B/param", paper_value: 8, unit: B/param, source: "T1", url: "https://example.org", kind: memory,
              experiment: e, measure: { metric: state_bytes, of: adamw, per_param: true }, rule: { kind: exact } }
          - { id: loss-gap, statement: "parity", paper_value: 0, unit: nats, source: "T3", url: "https://example.org", kind: quality,
              experiment: e, measure: { metric: final_eval_loss, of: adam8bit, versus: adamw, op: difference }, rule: { kind: gap, delta: 0.01 } }
          - { id: later, statement: "x", paper_value: 1, unit: GB, source: "T2", url: "https://example.org", kind: memory,
              experiment: e, measure: { metric: state_bytes, of: adamw }, rule: { kind: ratio, tolerance: 0.1 }, needs: [adam8bit_linear_map] }
          - { id: on-gpu, statement: "y", paper_value: 1, unit: GB, source: "T4", url: "https://example.org", kind: memory,
              experiment: gpu, measure: { metric: state_bytes, of: adamw }, rule: { kind: ratio, tolerance: 0.1 } }
        """;

    private static readonly string LinearMapNeeded = "not run: needs " + HarnessFeatures.Find("adam8bit_linear_map")!.Description;

    [Fact]
    public void Smoke_reproduce_runs_judges_writes_and_reuses_completed_runs()
    {
        using var dir = new TestConfigs.TempDir();
        File.WriteAllText(Path.Combine(dir.Path, "exp.yaml"), Experiment);
        File.WriteAllText(Path.Combine(dir.Path, "exp-gpu.yaml"), Experiment.Replace("tiny-reproduce", "tiny-gpu", StringComparison.Ordinal).Replace("cpu", "cuda", StringComparison.Ordinal));
        File.WriteAllText(Path.Combine(dir.Path, "pack.yaml"), Pack);
        var pack = PackLoader.Load(PackLoader.Find(dir.Path, [])!);
        var runs = Path.Combine(dir.Path, "runs");
        var plans = PackRunner.Plan(pack, PackScale.Smoke, "cpu");
        Assert.Equal(["e"], plans.Select(p => p.ExperimentId));
        Assert.Equal(4, plans[0].Runs.Count);
        var runner = new PackRunner(new ResultStore(runs), new NullRunObserver());
        var first = runner.Run(plans, DeviceSession.Basic(CPU), ProvenanceProbe.Collect(CPU), CancellationToken.None);
        Assert.True(first.Single().AllCompleted);

        var outDir = Path.Combine(runs, "claims", "tiny-smoke");
        var output = ClaimsReport.Build(pack, PackScale.Smoke, runs, plans, null, outDir);
        var rows = CsvFiles.ReadAll<ClaimRow>(Path.Combine(outDir, ClaimsReport.CsvFile));
        Assert.Equal(["adamw-bytes", "loss-gap", "later", "on-gpu"], rows.Select(r => r.Claim));
        Assert.Equal([ClaimVerdicts.Smoke, ClaimVerdicts.Smoke, LinearMapNeeded, "not run: paper only"], rows.Select(r => r.Verdict));
        Assert.Equal(8.0, rows[0].MeasuredValue);   // AdamW: two fp32 moments, exactly
        Assert.Equal("2", rows[0].Seeds);
        Assert.Equal("2 vs 2", rows[1].Seeds);
        Assert.NotNull(rows[1].MeasuredValue);
        Assert.All(rows, r => Assert.Equal("smoke", r.Scale));
        var header = File.ReadLines(Path.Combine(outDir, ClaimsReport.CsvFile)).First().Split(',');
        foreach (var column in new[] { "claim", "paper_value", "measured_value", "unit", "scale", "seeds", "verdict", "source" })
            Assert.Contains(column, header);
        Assert.Contains(output.Files, f => f.EndsWith("claims.png", StringComparison.Ordinal));
        Assert.Contains("| adamw-bytes |", File.ReadAllText(Path.Combine(outDir, ClaimsReport.MarkdownFile)), StringComparison.Ordinal);
        Assert.Contains("## Claims", File.ReadAllText(Path.Combine(runs, "tiny-reproduce", "report", "report.md")), StringComparison.Ordinal);

        // A second reproduce reuses every completed run; without a GPU the other scales run nothing and say so.
        var again = runner.Run(PackRunner.Plan(pack, PackScale.Smoke, "cpu"), DeviceSession.Basic(CPU), ProvenanceProbe.Collect(CPU), CancellationToken.None);
        Assert.Equal(4, again.Single().Reused);
        var paper = ClaimsReport.Judge(pack, PackScale.Paper, runs, [], "needs a GPU");
        Assert.Equal(["not run: needs a GPU", "not run: needs a GPU", LinearMapNeeded, "not run: needs a GPU"], paper.Select(r => r.Verdict));
    }
}
