namespace Harness.Tests.Conformance;

/// <summary>
/// A static source check (TorchSharp cannot count host syncs): the step code of GaLore, SubTrack++ and SWAN and
/// the projectors they call reads no tensor value back to the host (<c>.item&lt;</c>, <c>ToSingle</c>,
/// <c>ToDouble</c>, <c>.cpu()</c>, <c>data&lt;</c>), so a CUDA step never waits for the device.
/// </summary>
public sealed class StepHostSyncSourceTests
{
    private static readonly string[] HotPathFiles =
    [
        "optimizers/Harness.Optimizers/GaLore/GaLore.cs",
        "optimizers/Harness.Optimizers/SubTrackPlusPlus/SubTrackPlusPlus.cs",
        "optimizers/Harness.Optimizers/SubTrackPlusPlus/SubTrackGroup.cs",
        "optimizers/Harness.Optimizers/Swan/Swan.cs",
        "optimizers/Harness.Optimizers/LowRank/LowRankAdam.cs",
        "optimizers/Harness.Optimizers/LowRank/SvdProjector.cs",
        "optimizers/Harness.Optimizers/LowRank/GrassmannProjector.cs",
    ];

    private static readonly string[] HostReads = [".item<", "ToSingle(", "ToDouble(", ".cpu()", ".data<"];

    [Fact]
    public void Step_code_of_galore_subtrackpp_and_swan_has_no_host_reads()
    {
        var root = TestPaths.RepoRoot();
        Assert.Empty(HostReadsIn(HotPathFiles));
        Assert.Equal(HotPathFiles.Length, HotPathFiles.Count(f => File.Exists(Path.Combine(root, f))));
    }

    /// <summary>Every non-comment line of <paramref name="files"/> (repository paths) that reads a tensor back to the host, as "file:line: read".</summary>
    public static IReadOnlyList<string> HostReadsIn(IEnumerable<string> files)
    {
        var root = TestPaths.RepoRoot();
        return (from file in files
                let lines = File.ReadAllLines(Path.Combine(root, file))
                from i in Enumerable.Range(0, lines.Length)
                let code = lines[i].TrimStart()
                where !code.StartsWith("//", StringComparison.Ordinal)
                from read in HostReads
                where code.Contains(read, StringComparison.Ordinal)
                select $"{file}:{i + 1}: {read}").ToList();
    }
}
