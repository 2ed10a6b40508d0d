namespace Harness.Core.Devices;

/// <summary>
/// Which libtorch this process uses and whether it fits TorchSharp: the CPU package of ordinary builds,
/// or a host PyTorch's <c>torch/lib</c> (found by the GPU bundle's launcher or <c>HARNESS_LIBTORCH</c>).
/// </summary>
/// <param name="LibDir">The <c>torch/lib</c> folder, or null for the CPU package.</param>
/// <param name="Version">The host PyTorch version (from <c>torch/version.py</c>), when known.</param>
/// <param name="Source">How it was found, in words.</param>
/// <param name="Warning">A version mismatch that is known to work but worth saying.</param>
/// <param name="Problem">Why it cannot be used; null when it can.</param>
public sealed record LibTorchInfo(string? LibDir, string? Version, string Source, string? Warning, string? Problem)
{
    /// <summary>The torch package folder (holding <c>include/</c> and <c>lib/</c>), for native builds.</summary>
    public string? TorchDir => LibDir is null ? null : Path.GetDirectoryName(Path.GetFullPath(LibDir).TrimEnd('/'));
}
