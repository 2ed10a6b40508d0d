using System.Diagnostics;

namespace Harness.Core.Devices;

/// <summary>The outcome of a host command: whether it exited 0 in time, and what it printed.</summary>
internal sealed record HostCommandResult(bool Ok, string StdOut, string StdErr);

/// <summary>
/// Runs a host program (git, nvidia-smi, nvcc) with a time limit, reading both streams concurrently so a
/// chatty program cannot block on a full pipe; a missing program is a failed result, not an exception.
/// </summary>
internal static class HostCommand
{
    public static HostCommandResult Run(string file, string args, int timeoutSeconds, string? workingDirectory = null)
    {
        try
        {
            var info = new ProcessStartInfo(file, args)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            if (workingDirectory is not null) info.WorkingDirectory = workingDirectory;
            using var p = Process.Start(info);
            if (p is null) return new(false, "", "");
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(timeoutSeconds * 1000))
            {
                p.Kill(entireProcessTree: true);
                return new(false, "", "timed out");
            }
            return new(p.ExitCode == 0, stdout.Result, stderr.Result);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return new(false, "", e.Message);
        }
    }
}
