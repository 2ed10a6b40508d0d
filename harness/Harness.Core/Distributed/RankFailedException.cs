namespace Harness.Core.Distributed;

/// <summary>A data-parallel run failed because rank <see cref="Rank"/> did; the message is one line naming it and the cause.</summary>
public sealed class RankFailedException(int rank, string message) : Exception(message)
{
    public int Rank { get; } = rank;

    /// <summary>"rank R failed: Type: first line of the message" (a collective's own error is already one line naming its rank).</summary>
    public static string Describe(int rank, Exception e) =>
        e is CollectiveException ? e.Message : $"rank {rank} failed: {e.GetType().Name}: {FirstLine(e.Message)}";

    private static string FirstLine(string s) => s.Split('\n')[0].TrimEnd('\r');
}
