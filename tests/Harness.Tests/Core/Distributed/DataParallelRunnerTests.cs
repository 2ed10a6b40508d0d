using Harness.Core.Config;
using Harness.Core.Devices;
using Harness.Core.Distributed;
using Harness.Core.Planning;
using Harness.Core.Running;
using Harness.Results;
using static TorchSharp.torch;

namespace Harness.Tests.Core.Distributed;

/// <summary>The runner as a rank: two in-process ranks run a sweep; rank 0's folder holds the one result, with per-rank state.</summary>
public sealed class DataParallelRunnerTests
{
    [Fact]
    public void Two_ranks_write_one_run_folder_whose_losses_equal_one_device_and_whose_state_bytes_are_per_rank()
    {
        using var dir = new TestConfigs.TempDir();
        var single = TestConfigs.Experiment("single", 4, [TestConfigs.AdamW()]);
        var parallel = single with { Name = "parallel", Devices = 2 };
        var one = new ResultStore(Path.Combine(dir.Path, "one"));
        Assert.True(new SweepRunner(one, new NullRunObserver()).Run(single, Planner.Plan(single, "cpu"), CPU, ProvenanceProbe.Collect(CPU), CancellationToken.None).AllCompleted);

        var plan = Planner.Plan(parallel, "cpu");
        var completed = InProcessCollectiveGroup.Run(2, TimeSpan.FromSeconds(120), c =>
        {
            var store = new ResultStore(Path.Combine(dir.Path, c.Rank == 0 ? "out" : Path.Combine("out", ".ranks", $"rank{c.Rank}")));
            return new SweepRunner(store, new NullRunObserver(), collective: c)
                .Run(parallel, plan, DeviceSession.Basic(CPU), ProvenanceProbe.Collect(CPU), CancellationToken.None).AllCompleted;
        });
        Assert.Equal([true, true], completed);

        var reference = Assert.Single(ResultStore.ReadSummary(one.SummaryPath("single")));
        var rank0 = new ResultStore(Path.Combine(dir.Path, "out"));
        var row = Assert.Single(ResultStore.ReadSummary(rank0.SummaryPath("parallel")));
        Assert.NotEqual(reference.RunId, row.RunId);   // devices is part of the run spec: a 1-device result is not reused
        Assert.Equal(reference.FinalEvalLoss!.Value, row.FinalEvalLoss!.Value, 1e-5);
        var metrics = rank0.ReadMetrics("parallel", row.RunId).ToDictionary(m => m.Name, m => m.Value);
        var perRank = new[] { metrics["state_bytes.rank0"]!.Value, metrics["state_bytes.rank1"]!.Value };
        Assert.Equal((double)reference.StateBytes!.Value, perRank.Sum());          // AdamW: 8 bytes per element, split by ranges
        Assert.InRange(perRank[0] - perRank[1], -8, 8);                     // within one element
        Assert.Equal(perRank.Max(), metrics["state_bytes"]!.Value);
        Assert.Equal(perRank.Max(), metrics["expected_state_bytes"]!.Value);
    }

    [Fact]
    public void Devices_is_checked_against_the_batch_and_the_step_mode_with_file_and_line()
    {
        Config.ConfigTestKit.Single(Config.ConfigTestKit.Minimal + "\ndevices: 3\ntraining: { batch_size: 8 }", 5, null,
            "devices: batch_size 8 is not a multiple of devices 3");
        Config.ConfigTestKit.Single(Config.ConfigTestKit.Minimal + "\ndevices: 0", 5, null, "devices: must be >= 1 (got 0)");
        Config.ConfigTestKit.Single(Config.ConfigTestKit.Minimal + "\ndevices: 2\nstep_mode: per_layer\ntraining: { batch_size: 8 }", 5, null,
            "devices: data-parallel runs use step_mode standard; 'adamw' runs step_mode per_layer");
        Assert.Equal(2, ConfigLoader.Parse(Config.ConfigTestKit.Minimal + "\ndevices: 2\ntraining: { batch_size: 8 }", "t.yaml").Devices);
    }

    [Fact]
    public void The_launcher_runs_the_harness_again_per_rank_with_its_identity_and_nvls_off()
    {
        var viaHost = RankLaunch.Commands("/usr/bin/dotnet", ["/h/harness.dll", "run", "c.yaml", "--gpus", "2"], 2, "/tmp/rv");
        Assert.Equal(["/h/harness.dll", "run", "c.yaml", "--gpus", "2"], viaHost[1].Arguments);
        Assert.Equal("/usr/bin/dotnet", viaHost[1].FileName);
        Assert.Equal("1", viaHost[1].Environment["HARNESS_RANK"]);
        Assert.Equal("2", viaHost[1].Environment["HARNESS_WORLD_SIZE"]);
        Assert.All(viaHost, c => Assert.Equal("0", c.Environment["NCCL_NVLS_ENABLE"]));
        var bundled = RankLaunch.Commands("/b/bin/harness", ["/b/bin/harness.dll", "run", "c.yaml"], 2, "/tmp/rv");
        Assert.Equal(["run", "c.yaml"], bundled[0].Arguments);
        var env = new Dictionary<string, string?> { ["HARNESS_RANK"] = "1", ["HARNESS_WORLD_SIZE"] = "2", ["HARNESS_RENDEZVOUS"] = "/tmp/rv" };
        Assert.Equal(new RankEnvironment(1, 2, "/tmp/rv"), RankEnvironment.From(k => env.GetValueOrDefault(k)));
        Assert.Null(RankEnvironment.From(_ => null));
        env["HARNESS_RANK"] = "2";
        Assert.Throws<ArgumentException>(() => RankEnvironment.From(k => env.GetValueOrDefault(k)));
        Assert.Equal("needs 2 CUDA devices (one process per GPU), this machine has 0", RankLaunch.DeviceProblem(2, 0));
        Assert.Null(RankLaunch.DeviceProblem(2, 8));
    }

    /// <summary>A rank process that fails ends the launch: the others are killed after the grace, not waited for.</summary>
    [Fact]
    public void A_failed_rank_process_ends_the_launch_and_the_others_are_killed_after_the_grace()
    {
        var commands = new[]
        {
            new RankLaunch.RankCommand(0, "/bin/sh", ["-c", "sleep 60"], new Dictionary<string, string>()),
            new RankLaunch.RankCommand(1, "/bin/sh", ["-c", "sleep 0.2; exit 3"], new Dictionary<string, string>()),
        };
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var outcome = RankProcesses.Run(commands, TimeSpan.FromMilliseconds(300));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"took {watch.Elapsed}");
        Assert.Equal(1, outcome.FirstFailedRank);
        Assert.Equal(3, outcome.ExitCodes[1]);
        Assert.NotEqual(0, outcome.ExitCodes[0]);
        Assert.StartsWith("rank 1 exited with code 3; ranks 0: ", outcome.Problem);
    }

    [Fact]
    public async Task The_rendezvous_hands_a_value_to_a_waiting_rank_and_times_out_with_one_line()
    {
        using var dir = new TestConfigs.TempDir();
        var waiter = Task.Run(() => new FileRendezvous(dir.Path, 1, TimeSpan.FromSeconds(30)).WaitFor("id"));
        await Task.Delay(100);
        new FileRendezvous(dir.Path, 0, TimeSpan.FromSeconds(30)).Publish("id", [1, 2, 3]);
        Assert.Equal([1, 2, 3], await waiter);
        var e = Assert.Throws<CollectiveException>(() => new FileRendezvous(dir.Path, 1, TimeSpan.FromMilliseconds(200)).WaitFor("missing"));
        Assert.Equal($"rank 1: rendezvous 'missing' not published in {dir.Path} within 0.2 s", e.Message);
    }

    /// <summary>The GPU configs a 2-GPU session runs load, split their batch, and a sweep of N devices refuses to run as one process.</summary>
    [Fact]
    public void The_gpu_data_parallel_configs_load_and_one_process_refuses_a_multi_device_sweep()
    {
        foreach (var file in new[] { "ddp-60m.yaml", "ddp-tiny.yaml" })
        {
            var config = ConfigLoader.Load(Path.Combine(TestPaths.RepoRoot(), "configs", "gpu", file));
            Assert.Equal(2, config.Devices);
            Assert.Null(BatchSharding.Problem(config.Training.BatchSize, config.Devices));
        }
        var tiny = ConfigLoader.Load(Path.Combine(TestPaths.RepoRoot(), "configs", "gpu", "ddp-tiny.yaml"));
        using var dir = new TestConfigs.TempDir();
        var e = Assert.Throws<ArgumentException>(() => new SweepRunner(new ResultStore(dir.Path), new NullRunObserver())
            .Run(tiny, Planner.Plan(tiny, "cpu"), CPU, ProvenanceProbe.Collect(CPU), CancellationToken.None));
        Assert.Equal("ddp-tiny: devices 2, but this process is one of 1 rank(s); 'harness run' starts one process per GPU", e.Message);
    }
}
