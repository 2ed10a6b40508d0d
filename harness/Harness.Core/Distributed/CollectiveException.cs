namespace Harness.Core.Distributed;

/// <summary>
/// A collective could not complete: a rank timed out, another rank failed, or the ranks called different operations.
/// The message is one line naming the rank and the operation.
/// </summary>
public sealed class CollectiveException(string message) : Exception(message);
