namespace Harness.Core.Packs;

/// <summary>
/// A capability a pack claim can wait on (a claim's <c>needs</c> names it by <see cref="Id"/>). While it is not
/// <see cref="Available"/>, the claim is planned as <c>not run: needs &lt;description&gt;</c> and its experiment does not
/// run; once it is, the claim runs, and a pack that still lists it is stale (a test says so).
/// </summary>
public sealed record HarnessFeature(string Id, string Description, bool Available);
