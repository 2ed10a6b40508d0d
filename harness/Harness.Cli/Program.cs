using System.CommandLine;
using Harness.Cli;
using Harness.Cli.Commands;

var root = new RootCommand("harness: train the same workloads under many optimizers and measure memory, loss and speed honestly")
{
    RunCommand.Create(),
    ValidateCommand.Create(),
    ListCommand.Create(),
    ReportCommand.Create(),
    TraceCheckCommand.Create(),
    EnvCommand.Create(),
    BundleCommand.Create(),
    GpuCheckCommand.Create(),
    BenchStepCommand.Create(),
    DataCommand.Create(),
    MemoryCommand.Create(),
    ReproduceCommand.Create(),
};

var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    foreach (var error in parse.Errors)
        Console.Error.WriteLine($"harness: {error.Message}");
    Console.Error.WriteLine("harness: see 'harness --help'");
    return ExitCodes.BadInput;
}
// Our own guard reports bad input in one line per problem; System.CommandLine's handler would print a stack trace.
return CliErrors.Guard(() => parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false }));
