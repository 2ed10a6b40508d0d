using Harness.Tests.Reliability;

namespace Harness.Tests.Core.Distributed;

/// <summary><c>run --gpus N</c> on a machine without N CUDA devices, or with a batch that does not split: one line, exit code 2.</summary>
[Collection(HarnessProcess.Collection)]
public sealed class GpusOptionTests
{
    [Fact]
    public void Gpus_beyond_the_machine_or_a_batch_that_does_not_split_is_bad_input_in_one_line()
    {
        using var dir = new TestConfigs.TempDir();
        File.WriteAllText(Path.Combine(dir.Path, "d.yaml"), "name: d\nworkload: { kind: llama }\ntraining: { batch_size: 4 }\noptimizers: [ { kind: adamw } ]\n");
        var noGpus = HarnessProcess.Run(dir.Path, TimeSpan.FromSeconds(60), "run", "d.yaml", "--gpus", "2");
        Assert.Equal(2, noGpus.ExitCode);
        Assert.Equal("harness: --gpus 2: needs 2 CUDA devices (one process per GPU), this machine has 0", Assert.Single(noGpus.StderrLines));
        var uneven = HarnessProcess.Run(dir.Path, TimeSpan.FromSeconds(60), "run", "d.yaml", "--gpus", "3");
        Assert.Equal(2, uneven.ExitCode);
        Assert.Equal("harness: --gpus 3: batch_size 4 is not a multiple of devices 3 (each rank trains on an equal share)", Assert.Single(uneven.StderrLines));
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "runs")));
    }
}
