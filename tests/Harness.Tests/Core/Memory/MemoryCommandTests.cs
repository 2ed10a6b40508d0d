using Harness.Core.Memory;
using Harness.Results;
using Harness.Tests.Reliability;

namespace Harness.Tests.Core.Memory;

[Collection(HarnessProcess.Collection)]
public sealed class MemoryCommandTests
{
    [Fact]
    public void Memory_prints_the_plan_and_writes_csv_that_reads_back()
    {
        using var dir = new TestConfigs.TempDir();
        File.WriteAllText(Path.Combine(dir.Path, "m.yaml"), """
            name: m
            workload: { kind: gpt2, size: small }
            optimizers:
              - { kind: adamw }
              - { kind: gefen }
            """);
        var r = HarnessProcess.Run(dir.Path, TimeSpan.FromSeconds(60), "memory", "m.yaml", "--csv", "plan.csv");
        Assert.True(r.ExitCode == 0, r.Stderr);
        // GPT-2 small with the tokenizer's 50257 ids and the tied head: 124,439,808 parameters.
        Assert.Contains("124,439,808 parameters (float32)", r.Stdout);
        var rows = CsvFiles.ReadAll<MemoryPlanRow>(Path.Combine(dir.Path, "plan.csv"));
        Assert.Equal(["adamw", "gefen"], rows.Select(x => x.Label));
        Assert.Equal(8 * 124_439_808L, rows[0].StateBytes);
        Assert.Equal("exact", rows[0].StateKind);
        Assert.Equal("bound", rows[1].StateKind);
        Assert.True(rows[1].StateBytesMin < rows[1].StateBytes);
        Assert.Contains("state_bytes,state_bytes_min,state_kind", File.ReadLines(Path.Combine(dir.Path, "plan.csv")).First());
    }

    [Fact]
    public void A_workload_without_shapes_is_bad_input_in_one_line()
    {
        using var dir = new TestConfigs.TempDir();
        File.WriteAllText(Path.Combine(dir.Path, "m.yaml"), "name: m\nworkload: { kind: cnn }\noptimizers: [ { kind: adamw } ]\n");
        var r = HarnessProcess.Run(dir.Path, TimeSpan.FromSeconds(60), "memory", "m.yaml");
        Assert.Equal(2, r.ExitCode);
        var line = Assert.Single(r.StderrLines);
        Assert.StartsWith("harness: m.yaml: workload kind 'cnn' has no shape description", line);
    }
}
