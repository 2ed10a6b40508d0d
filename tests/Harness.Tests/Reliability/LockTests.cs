using Harness.Core.Devices;
using Harness.Core.Planning;
using Harness.Results;
using Harness.Core.Running;
using Harness.Tests.Core;
using static TorchSharp.torch;

namespace Harness.Tests.Reliability;

[Collection(HarnessProcess.Collection)]
public sealed class LockTests
{
    [Fact]
    public void A_second_sweep_on_a_locked_experiment_folder_is_refused_and_writes_nothing()
    {
        using var dir = new TestConfigs.TempDir();
        var store = new ResultStore(dir.Path);
        var config = TestConfigs.Experiment("shared", 2, [TestConfigs.AdamW()]);
        var plan = Planner.Plan(config, "cpu");
        SweepResult Sweep() => new SweepRunner(store, new NullRunObserver()).Run(config, plan, CPU, ProvenanceProbe.Collect(CPU), CancellationToken.None);

        using (store.Lock("shared"))
        {
            var e = Assert.Throws<ExperimentLockedException>(Sweep);
            Assert.Contains("in use by another harness process", e.Message);
            Assert.Equal(Path.Combine(store.ExperimentDir("shared"), ExperimentLock.FileName), e.LockPath);
            Assert.False(Directory.Exists(store.RunDir("shared", plan[0].RunId)));
            // Another experiment in the same results root is not blocked.
            using (store.Lock("other")) { }
        }
        Assert.True(Sweep().AllCompleted); // released with the handle
    }

    [Fact]
    public void A_second_harness_process_on_the_same_folder_exits_2_with_a_clear_message()
    {
        using var dir = new TestConfigs.TempDir();
        File.WriteAllText(Path.Combine(dir.Path, "crash.yaml"), KillAndResumeTests.Config);
        var store = new ResultStore(Path.Combine(dir.Path, "out"));
        using var holder = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            WorkingDirectory = dir.Path,
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "harness.dll"), "run", "crash.yaml", "--out", "out", "--pause-at", "before-step:0:1" },
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            Environment = { ["CI"] = "1" },
        })!;
        try
        {
            _ = holder.StandardOutput.ReadToEndAsync();
            while (holder.StandardError.ReadLine() is { } line && line != "harness: paused at before-step:0:1") { }
            var second = HarnessProcess.Run(dir.Path, TimeSpan.FromSeconds(60), "run", "crash.yaml", "--out", "out");
            Assert.Equal(2, second.ExitCode);
            var message = Assert.Single(second.StderrLines);
            Assert.Contains("in use by another harness process", message);
            Assert.Contains(ExperimentLock.FileName, message);
        }
        finally
        {
            holder.Kill(entireProcessTree: true);
            holder.WaitForExit();
        }
    }
}
