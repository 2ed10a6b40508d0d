namespace Harness.Optimizers;

/// <summary>The least and the most persistent state an optimizer can hold for given shapes, when the data decides within that range.</summary>
public sealed record StateBytesRange(long Min, long Max)
{
    /// <summary>True when <paramref name="bytes"/> lies in the range (ends included).</summary>
    public bool Contains(long bytes) => bytes >= Min && bytes <= Max;
}
