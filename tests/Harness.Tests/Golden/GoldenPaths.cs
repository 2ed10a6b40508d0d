using Harness.Core.Traces;

namespace Harness.Tests.Golden;

/// <summary>
/// Where the tests find the golden traces: <c>HARNESS_GOLDEN</c> when set (tests only; the library
/// never reads the environment), else the repo convention <c>&lt;repo root&gt;/../shared/golden</c>.
/// </summary>
internal static class GoldenPaths
{
    public static string Directory =>
        Environment.GetEnvironmentVariable("HARNESS_GOLDEN") is { Length: > 0 } overridden
            ? overridden
            : GoldenLocation.FindDirectory(AppContext.BaseDirectory)
              ?? throw new InvalidOperationException("no Harness.sln above the test binaries; set HARNESS_GOLDEN");

    public static string CaseAManifest => Path.Combine(Directory, GoldenLocation.CaseAManifest);

    /// <summary>
    /// A writable copy of case A (manifest edited by <paramref name="edit"/>, trace files copied) in a
    /// fresh temporary folder, for tests that need a manifest the real one is not.
    /// </summary>
    public static TempCase CopyCaseA(Action<System.Text.Json.Nodes.JsonObject> edit, params string[] traceSuffixes)
    {
        var dir = System.IO.Directory.CreateTempSubdirectory("harness-golden-").FullName;
        var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(CaseAManifest))!.AsObject();
        edit(node);
        var manifest = Path.Combine(dir, GoldenLocation.CaseAManifest);
        File.WriteAllText(manifest, node.ToJsonString());
        foreach (var suffix in traceSuffixes)
            File.Copy(Path.Combine(Directory, $"caseA.{suffix}.safetensors"), Path.Combine(dir, $"caseA.{suffix}.safetensors"));
        return new TempCase(dir, manifest);
    }

    internal sealed record TempCase(string Folder, string ManifestPath) : IDisposable
    {
        public void Dispose() => System.IO.Directory.Delete(Folder, recursive: true);
    }
}
