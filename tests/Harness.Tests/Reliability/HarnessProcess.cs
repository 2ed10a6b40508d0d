using System.Diagnostics;

namespace Harness.Tests.Reliability;

/// <summary>Runs the built CLI (harness.dll beside the test binaries) as a child process with <c>dotnet</c>.</summary>
internal static class HarnessProcess
{
    /// <summary>The xunit collection of the tests that start harness processes: one at a time, so their timings are not each other's load.</summary>
    public const string Collection = "harness processes";

    public sealed record Result(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)
    {
        public string[] StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    private static ProcessStartInfo Start(string workDir, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "harness.dll"));
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["CI"] = "1"; // plain progress lines, no live terminal UI
        info.Environment["DOTNET_NOLOGO"] = "1";
        return info;
    }

    /// <summary>Runs to the end (or kills it after <paramref name="timeout"/> and fails).</summary>
    public static Result Run(string workDir, TimeSpan timeout, params string[] args)
    {
        var watch = Stopwatch.StartNew();
        using var p = Process.Start(Start(workDir, args))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"harness {string.Join(' ', args)} did not finish within {timeout.TotalSeconds} s");
        }
        p.WaitForExit();
        return new Result(p.ExitCode, stdout.Result, stderr.Result, watch.Elapsed);
    }

    /// <summary>
    /// Starts <c>harness run ... --pause-at POINT</c>, waits until it reports that it paused there, and
    /// kills it with SIGKILL (what <see cref="Process.Kill()"/> sends on Linux): no handler, no cleanup.
    /// </summary>
    public static void RunAndKillAt(string workDir, string point, TimeSpan timeout, params string[] args)
    {
        using var p = Process.Start(Start(workDir, [.. args, "--pause-at", point]))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderrSeen = new System.Text.StringBuilder();
        var paused = Task.Run(() =>
        {
            while (p.StandardError.ReadLine() is { } line)
            {
                stderrSeen.AppendLine(line);
                if (line == $"harness: paused at {point}") return true;
            }
            return false;
        });
        var reached = paused.Wait(timeout) && paused.Result;
        p.Kill(entireProcessTree: true);
        p.WaitForExit();
        Assert.True(reached, $"never paused at {point}; exit {(p.HasExited ? p.ExitCode : -1)}; stderr: {stderrSeen}; stdout: {stdout.Result}");
        Assert.Equal(137, p.ExitCode); // 128 + SIGKILL
    }
}
