using Harness.Core.Config;
using Harness.Core.Planning;

namespace Harness.Tests.Config;

public sealed class LoggingConfigTests
{
    [Fact]
    public void Logging_tensorboard_binds_and_leaves_the_run_ids_unchanged()
    {
        var plain = ConfigLoader.Parse(ConfigTestKit.Minimal, ConfigTestKit.Source);
        var logged = ConfigLoader.Parse(ConfigTestKit.Minimal + "\nlogging: { tensorboard: true }", ConfigTestKit.Source);
        Assert.False(plain.Logging.Tensorboard);
        Assert.True(logged.Logging.Tensorboard);
        Assert.Equal(Planner.Plan(plain, "cpu").Select(r => r.RunId), Planner.Plan(logged, "cpu").Select(r => r.RunId));
    }

    [Fact]
    public void An_unknown_logging_key_is_an_error_at_its_line()
    {
        ConfigTestKit.Single(ConfigTestKit.Minimal + "\nlogging:\n  tensorbord: true", 6, null, "tensorbord");
    }
}
