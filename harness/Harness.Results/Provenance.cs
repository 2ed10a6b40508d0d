namespace Harness.Results;

/// <summary>Software and hardware a run used (modded-nanogpt's rule: provenance in every log).</summary>
public sealed record Provenance(
    string GitCommit,
    bool GitDirty,
    string DotnetVersion,
    string TorchSharpVersion,
    string LibTorchVersion,
    string Device,
    string DeviceName,
    string OperatingSystem,
    int CpuThreads)
{
    /// <summary>Which libtorch ran: the CPU package, or the host PyTorch with its version.</summary>
    public string LibTorchSource { get; init; } = "";
    /// <summary>How memory and time were measured on this device (native probe, fallback, none).</summary>
    public string MemoryProbe { get; init; } = "";
}
