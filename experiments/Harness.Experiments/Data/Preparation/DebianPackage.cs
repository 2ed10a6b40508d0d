using System.Diagnostics;

namespace Harness.Experiments.Data.Preparation;

/// <summary>
/// A Debian package fetched with <c>apt-get download</c> and unpacked with <c>dpkg-deb -x</c> (no install,
/// no root). .NET cannot read the <c>data.tar.xz</c> inside, hence the two subprocesses.
/// </summary>
public static class DebianPackage
{
    /// <summary>Downloads and unpacks <paramref name="package"/> under <paramref name="workDirectory"/>; returns the unpacked root.</summary>
    /// <exception cref="DataException">apt-get or dpkg-deb is missing or fails (e.g. the archive is unreachable).</exception>
    public static string DownloadAndExtract(string package, string workDirectory)
    {
        Directory.CreateDirectory(workDirectory);
        Run("apt-get", ["download", package], workDirectory, package);
        var deb = Directory.GetFiles(workDirectory, $"{package}_*.deb").OrderBy(f => f, StringComparer.Ordinal).LastOrDefault()
            ?? throw new DataException(package, "apt-get download produced no .deb file");
        var root = Path.Combine(workDirectory, package);
        Run("dpkg-deb", ["-x", deb, root], workDirectory, package);
        return root;
    }

    private static void Run(string program, IReadOnlyList<string> arguments, string workDirectory, string package)
    {
        var info = new ProcessStartInfo(program) { WorkingDirectory = workDirectory, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new DataException(package, $"could not start {program}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new DataException(package, $"{program} is not available ({e.Message}); Debian sources need apt-get and dpkg-deb", e);
        }
        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
                throw new DataException(package, $"{program} {string.Join(' ', arguments)} failed (exit {process.ExitCode}): {stderr.Result.Trim()}");
        }
    }
}
