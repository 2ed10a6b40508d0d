namespace Harness.Core.Results;

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
    int CpuThreads);
