using System.Text.RegularExpressions;

namespace Harness.Core.Devices;

/// <summary>
/// Finds and checks the host libtorch named by <c>HARNESS_LIBTORCH</c> (the bundle's launcher sets it
/// from <c>python3 -c 'import torch'</c> when the user has not). TorchSharp 0.107 is built for libtorch
/// 2.10; a host 2.x of another minor version loads (the C ABI TorchSharp uses is stable across the
/// 2.10–2.11 releases the harness was run on) and is reported as a warning; another major version, a
/// missing folder or a folder without <c>libtorch.so</c> is a problem, said in full.
/// </summary>
public static partial class LibTorchDiscovery
{
    public const string ExpectedVersion = "2.10";
    public const string EnvironmentVariable = "HARNESS_LIBTORCH";

    public static LibTorchInfo Discover(string? harnessLibTorch)
    {
        if (string.IsNullOrWhiteSpace(harnessLibTorch))
            return new LibTorchInfo(null, ExpectedVersion, "the libtorch-cpu package bundled with this build (CPU only)", null, null);
        var dir = Path.GetFullPath(harnessLibTorch);
        var source = $"{EnvironmentVariable}={harnessLibTorch}";
        if (!Directory.Exists(dir))
            return new LibTorchInfo(dir, null, source, null, $"{dir} does not exist; point {EnvironmentVariable} at a PyTorch install's torch/lib folder");
        if (!File.Exists(Path.Combine(dir, "libtorch.so")))
            return new LibTorchInfo(dir, null, source, null, $"{dir} has no libtorch.so; {EnvironmentVariable} must name a torch/lib folder (python3 -c 'import torch,os; print(os.path.dirname(torch.__file__))' prints its parent)");
        var version = ReadVersion(Path.Combine(dir, "..", "version.py"));
        if (version is null)
            return new LibTorchInfo(dir, null, source, $"no torch/version.py beside {dir}: cannot check it against libtorch {ExpectedVersion}", null);
        var (major, minor) = MajorMinor(version);
        var (wantMajor, wantMinor) = MajorMinor(ExpectedVersion);
        if (major != wantMajor)
            return new LibTorchInfo(dir, version, source, null, $"host libtorch {version} has another major version than the {ExpectedVersion} TorchSharp 0.107 is built for; install PyTorch 2.10 or 2.11");
        var warning = minor == wantMinor ? null
            : $"host libtorch {version} differs from the {ExpectedVersion} TorchSharp 0.107 is built for; 2.11 is known to work, other minor versions are untested";
        var cuda = File.Exists(Path.Combine(dir, "libtorch_cuda.so")) ? null : "it has no libtorch_cuda.so, so only the CPU is usable";
        return new LibTorchInfo(dir, version, source, string.Join("; ", new[] { warning, cuda }.Where(s => s is not null)) is { Length: > 0 } w ? w : null, null);
    }

    /// <summary>The <c>__version__</c> string of a PyTorch <c>version.py</c>, or null.</summary>
    public static string? ReadVersion(string versionPy)
    {
        if (!File.Exists(versionPy)) return null;
        var match = VersionLine().Match(File.ReadAllText(versionPy));
        return match.Success ? match.Groups[1].Value : null;
    }

    private static (int, int) MajorMinor(string version)
    {
        var parts = version.Split('.', '+');
        return (int.TryParse(parts[0], out var a) ? a : -1, parts.Length > 1 && int.TryParse(parts[1], out var b) ? b : -1);
    }

    [GeneratedRegex(@"^__version__\s*=\s*['""]([^'""]+)['""]", RegexOptions.Multiline)]
    private static partial Regex VersionLine();
}
