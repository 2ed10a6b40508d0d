using Harness.Core.Checkpoints;
using Harness.Core.Config;
using Harness.Core.Devices;
using Harness.Results;

namespace Harness.Cli;

/// <summary>
/// Turns the library's typed errors about bad input into one clear line each on stderr and exit code 2,
/// with no stack trace. Anything else is a bug and keeps its stack trace.
/// </summary>
public static class CliErrors
{
    public static int Guard(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (ConfigException e)
        {
            foreach (var problem in e.Problems.OrderBy(p => p.Source, StringComparer.Ordinal).ThenBy(p => p.Line).ThenBy(p => p.Column))
                Console.Error.WriteLine(problem.ToString());
            Console.Error.WriteLine($"harness: {e.Problems.Count} problem(s) in the configuration; nothing was run");
            return ExitCodes.BadInput;
        }
        catch (Harness.Experiments.Data.DataException e)
        {
            Console.Error.WriteLine($"harness: {e.Message}");
            return ExitCodes.BadInput;
        }
        catch (Exception e) when (e is ResultFormatException or CheckpointException or ExperimentLockedException
                                      or DeviceUnavailableException or FileNotFoundException or DirectoryNotFoundException)
        {
            Console.Error.WriteLine($"harness: {e.Message}");
            return ExitCodes.BadInput;
        }
    }
}
