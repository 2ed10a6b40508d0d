namespace Harness.Core.Traces;

/// <summary>
/// Where the golden traces live by convention: <c>&lt;repo root&gt;/../shared/golden</c>, the repo root
/// being the folder that holds <c>Harness.sln</c>. Callers that want another place pass a path instead.
/// </summary>
public static class GoldenLocation
{
    /// <summary>The manifest of the standard case.</summary>
    public const string CaseAManifest = "caseA.manifest.json";

    /// <summary>The golden folder for a repo found by walking up from <paramref name="startDirectory"/>, or null.</summary>
    public static string? FindDirectory(string startDirectory)
    {
        for (var dir = new DirectoryInfo(startDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Harness.sln")))
                return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "golden"));
        return null;
    }
}
