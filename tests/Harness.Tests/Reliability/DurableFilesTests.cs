using Harness.Results;
using Harness.Tests.Core;

namespace Harness.Tests.Reliability;

/// <summary>Damaged result files are rejected with the file's name, never read as silently wrong numbers.</summary>
public sealed class DurableFilesTests
{
    private const string Header = "step,tokens,lr,train_loss,eval_loss,eval_perplexity,eval_accuracy\n";

    [Theory]
    [InlineData("torn-last-row", Header + "0,0,0.001,,5.5,244.7,\n1,128,0.0", "truncated")]
    [InlineData("missing-fields", Header + "0,0,0.001,,5.5,244.7,\n1,128,0.001\n", "row 3: 3 fields, but the header has 7")]
    [InlineData("extra-fields", Header + "0,0,0.001,,5.5,244.7,,9,9\n", "row 2: 9 fields")]
    [InlineData("empty", "", "empty")]
    [InlineData("not-a-number", Header + "0,zero,0.001,,5.5,244.7,\n", "row 2")]
    [InlineData("header-only-garbage", "\u0001\u0002\u0003\n", "row")]
    public void A_damaged_steps_csv_is_rejected_with_its_name(string name, string content, string problem)
    {
        using var dir = new TestConfigs.TempDir();
        var path = Path.Combine(dir.Path, name + ".csv");
        File.WriteAllText(path, content);
        var e = Assert.Throws<ResultFormatException>(() => CsvFiles.ReadAll<StepRecord>(path));
        Assert.Equal(path, e.Path);
        Assert.StartsWith(path + ": ", e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void Binary_garbage_in_a_metrics_csv_is_rejected_with_its_name()
    {
        using var dir = new TestConfigs.TempDir();
        var path = Path.Combine(dir.Path, "metrics.csv");
        var bytes = new byte[2048];
        new Random(7).NextBytes(bytes);
        bytes[^1] = (byte)'\n';
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<ResultFormatException>(() => CsvFiles.ReadAll<MetricRecord>(path));
        Assert.Equal(path, e.Path);
    }

    [Fact]
    public void Truncating_after_a_crash_keeps_complete_rows_up_to_the_checkpoint_and_drops_a_torn_one()
    {
        using var dir = new TestConfigs.TempDir();
        var path = Path.Combine(dir.Path, "steps.csv");
        File.WriteAllText(path, Header + "0,0,0.001,,5.5,244.7,\n1,128,0.001,5.4,,,\n2,256,0.001,5.3,,,\n3,384,0.0");
        var kept = CsvFiles.Truncate<StepRecord>(path, r => r.Step <= 1);
        Assert.Equal([0, 1], kept.Select(r => r.Step));
        Assert.Equal([0, 1], CsvFiles.ReadAll<StepRecord>(path).Select(r => r.Step));
        Assert.Equal(5.4, CsvFiles.ReadAll<StepRecord>(path)[1].TrainLoss);
    }

    [Theory]
    [InlineData("{\"run_id\": \"abc\", \"experiment\": ")]
    [InlineData("")]
    [InlineData("[1, 2, 3]")]
    [InlineData("{\"run_id\": \"abc\", \"status\": \"exploded\"}")]
    [InlineData("\u0000\u0000\u0000\u0000")]
    public void A_damaged_manifest_is_rejected_with_its_name_and_so_is_the_summary_built_from_it(string content)
    {
        using var dir = new TestConfigs.TempDir();
        var store = new ResultStore(dir.Path);
        var path = Path.Combine(store.RunDir("x", "abc"), ResultStore.ManifestFile);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        var e = Assert.Throws<ResultFormatException>(() => ResultStore.ReadManifestFile(path));
        Assert.Equal(path, e.Path);
        Assert.Equal(path, Assert.Throws<ResultFormatException>(() => store.RebuildSummary("x")).Path);
    }

    [Fact]
    public void Every_results_file_of_a_run_is_written_whole_no_temporaries_left()
    {
        using var dir = new TestConfigs.TempDir();
        var store = new ResultStore(dir.Path);
        var config = TestConfigs.Experiment("whole", 4, [TestConfigs.AdamW()]);
        config = config with { Training = config.Training with { CheckpointEvery = 2, LogEvery = 1 } };
        new Harness.Core.Running.SweepRunner(store, new Harness.Core.Running.NullRunObserver())
            .Run(config, Harness.Core.Planning.Planner.Plan(config, "cpu"), TorchSharp.torch.CPU,
                Harness.Core.Devices.ProvenanceProbe.Collect(TorchSharp.torch.CPU), CancellationToken.None);
        var files = Directory.EnumerateFiles(store.ExperimentDir("whole"), "*", SearchOption.AllDirectories).Select(Path.GetFileName).Order().ToList();
        Assert.Equal([".harness.lock", "events.csv", "manifest.json", "metrics.csv", "steps.csv", "summary.csv", "timing.csv", "updates.csv"], files);
        var summary = ResultStore.ReadSummary(store.SummaryPath("whole"))[0];
        var runId = summary.RunId;
        // Every logged step has one updates.csv row per role; a calm run has no events (the file holds its header).
        var updates = store.ReadUpdates("whole", runId);
        Assert.Equal(Enumerable.Range(1, 4).SelectMany(s => new[] { (s, "matrix"), (s, "vector"), (s, "embedding"), (s, "output_head") }),
            updates.Select(u => (u.Step, u.Role)));
        Assert.Equal(updates.Max(u => u.MaxRatio), summary.MaxUpdateRatio);
        Assert.Empty(store.ReadEvents("whole", runId));
        Assert.Equal(0, summary.LossSpikes);
        var timing = store.ReadTiming("whole", runId);
        Assert.Equal([0, 1, 2, 3, 4], timing.Select(t => t.Step));
        Assert.True(timing.Zip(timing.Skip(1)).All(p => p.Second.ElapsedS > p.First.ElapsedS));
        Assert.DoesNotContain("elapsed", File.ReadAllText(Path.Combine(store.RunDir("whole", runId), ResultStore.StepsFile)));
    }
}
