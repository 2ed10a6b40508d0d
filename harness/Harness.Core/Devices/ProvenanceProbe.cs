using System.Runtime.InteropServices;
using Harness.Results;
using TorchSharp;
using static TorchSharp.torch;

namespace Harness.Core.Devices;

/// <summary>Collects the provenance written into every manifest.</summary>
public static class ProvenanceProbe
{
    public static Provenance Collect(Device device, string? repoDir = null)
    {
        var (commit, dirty) = Git(repoDir ?? AppContext.BaseDirectory);
        return new Provenance(
            commit,
            dirty,
            Environment.Version.ToString(),
            typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString() ?? "unknown",
            __version__,
            device.ToString(),
            device.type == DeviceType.CPU ? CpuName() : GpuName(device),
            RuntimeInformation.OSDescription,
            get_num_threads());
    }

    private static string GpuName(Device device)
    {
        var index = Math.Max(0, (int)device.index);
        var r = HostCommand.Run("nvidia-smi", $"--query-gpu=name,memory.total,driver_version --format=csv,noheader -i {index}", 5);
        var line = r.StdOut.Trim();
        if (r.Ok && line.Length > 0) return line;
        return $"CUDA device {index}";
    }

    private static string CpuName()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            if (line is not null) return line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }

    /// <summary>The commit and whether the tree has uncommitted changes; "unknown" outside a checkout.</summary>
    private static (string Commit, bool Dirty) Git(string dir)
    {
        var commit = RunGit(dir, "rev-parse HEAD");
        if (commit is null) return BundleCommit(dir);
        var status = RunGit(dir, "status --porcelain --untracked-files=no");
        return (commit, !string.IsNullOrEmpty(status));
    }

    /// <summary>A GPU bundle has no checkout; <c>./run.sh bundle</c> writes the commit into <c>COMMIT</c> beside <c>bin/</c>.</summary>
    private static (string Commit, bool Dirty) BundleCommit(string dir)
    {
        var file = Path.Combine(dir, "..", "COMMIT");
        if (!File.Exists(file)) return ("unknown", false);
        var lines = File.ReadAllLines(file);
        return (lines.Length > 0 && lines[0].Length > 0 ? lines[0] : "unknown", lines.Length > 1 && lines[1] == "dirty");
    }

    private static string? RunGit(string dir, string args)
    {
        var r = HostCommand.Run("git", args, 5, dir);
        return r.Ok ? r.StdOut.Trim() : null;
    }
}
