using Harness.Core.Config;

namespace Harness.Tests.Config;

/// <summary>Shared helpers: load inline YAML and get the problems it produces.</summary>
internal static class ConfigTestKit
{
    public const string Source = "test.yaml";

    /// <summary>The smallest valid config; tests add one thing wrong to it.</summary>
    public const string Minimal = """
        name: t
        workload: { kind: llama }
        optimizers:
          - kind: adamw
        """;

    public static IReadOnlyList<ConfigProblem> Problems(string yaml, params string[] overrides)
    {
        var e = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, Source, overrides));
        Assert.NotEmpty(e.Problems);
        return e.Problems;
    }

    /// <summary>Asserts exactly one problem, at the given place, whose message contains <paramref name="text"/>.</summary>
    public static ConfigProblem Single(string yaml, int line, int? column, string text, params string[] overrides)
    {
        var problems = Problems(yaml, overrides);
        var p = Assert.Single(problems);
        // A problem in an override is located in the override's own text.
        AssertAt(p, line, column, text, overrides.Length > 0 && p.Source != Source ? $"--set {overrides[^1]}" : Source);
        return p;
    }

    public static void AssertAt(ConfigProblem p, int line, int? column, string text, string source = Source)
    {
        Assert.Equal(source, p.Source);
        Assert.Equal(line, p.Line);
        if (column is { } c) Assert.Equal(c, p.Column);
        Assert.Contains(text, p.Message);
    }
}
