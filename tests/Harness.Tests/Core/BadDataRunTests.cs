using Harness.Core.Devices;
using Harness.Core.Planning;
using Harness.Results;
using Harness.Core.Running;
using Harness.Experiments.Data;
using Harness.Experiments.Workloads;
using static TorchSharp.torch;

namespace Harness.Tests.Core;

public sealed class BadDataRunTests
{
    [Fact]
    public void A_missing_corpus_file_stops_the_sweep_as_bad_input_naming_the_file()
    {
        using var dir = new TestConfigs.TempDir();
        var missing = Path.Combine(dir.Path, "no-such-corpus.txt");
        var config = TestConfigs.Experiment("baddata", 3, [TestConfigs.AdamW(), TestConfigs.Lion()]);
        config = config with { Workload = TestConfigs.TinyLlama() with { Data = new TextDataSpec { Corpus = missing, Tokenizer = "byte" } } };
        var store = new ResultStore(Path.Combine(dir.Path, "runs"));
        var e = Assert.Throws<DataException>(() => new SweepRunner(store, new NullRunObserver(), Path.Combine(dir.Path, "cache"))
            .Run(config, Planner.Plan(config, "cpu"), CPU, ProvenanceProbe.Collect(CPU), CancellationToken.None));
        Assert.Equal(missing, e.Path);
        // The first run's manifest is kept (status running), so a rerun after fixing the path retries it.
        var first = Planner.Plan(config, "cpu")[0];
        Assert.Equal(RunStatus.Running, store.TryReadManifest("baddata", first.RunId)!.Status);
    }
}
