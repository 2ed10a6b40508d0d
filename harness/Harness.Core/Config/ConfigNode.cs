namespace Harness.Core.Config;

/// <summary>Where a node came from: a file (or a <c>--set</c> override) and a 1-based line and column.</summary>
internal readonly record struct SourceMark(string Source, int Line, int Column);

/// <summary>
/// A node of the loader's own YAML tree. YamlDotNet's representation model drops duplicate keys and
/// expands aliases eagerly; this tree keeps every key with its position so every problem can be located.
/// Nodes reached through an alias are the same object as the anchored node (never copied while reading).
/// </summary>
internal abstract class ConfigNode(SourceMark mark)
{
    public SourceMark Mark { get; } = mark;

    /// <summary>
    /// The key path to name in messages when it is not the path the binder walked (a sweep value bound
    /// into an options mapping is reported as <c>optimizers[1].sweep.lr[2]</c>, where it was written).
    /// </summary>
    public string? DisplayPath { get; init; }

    /// <summary>How a message says what was given instead of what was expected.</summary>
    public abstract string Describe();
}

internal sealed class ScalarNode(SourceMark mark, string value, bool isPlain) : ConfigNode(mark)
{
    public string Value { get; } = value;

    /// <summary>Unquoted: only plain scalars can be numbers, booleans or null.</summary>
    public bool IsPlain { get; } = isPlain;

    /// <summary>Already reported while reading (e.g. too long); binding skips it without a second message.</summary>
    public bool Rejected { get; init; }

    /// <summary>A YAML null: an empty plain scalar, <c>~</c> or <c>null</c>.</summary>
    public bool IsNull => IsPlain && Value is "" or "~" or "null" or "Null" or "NULL";

    public ScalarNode WithDisplayPath(string path) => new(Mark, Value, IsPlain) { Rejected = Rejected, DisplayPath = path };

    public override string Describe() => IsPlain && Value.Length == 0 ? "nothing" : IsNull ? "null" : $"'{Shorten(Value)}'";

    private static string Shorten(string s) => s.Length <= 60 ? s : s[..57] + "...";
}

internal sealed class SequenceNode(SourceMark mark, List<ConfigNode> items) : ConfigNode(mark)
{
    public List<ConfigNode> Items { get; } = items;
    public SequenceNode ShallowCopy() => new(Mark, [.. Items]) { DisplayPath = DisplayPath };
    public override string Describe() => "a list";
}

internal sealed class MappingNode(SourceMark mark, List<MappingEntry> entries) : ConfigNode(mark)
{
    public List<MappingEntry> Entries { get; } = entries;

    public MappingEntry? Find(string key) => Entries.FirstOrDefault(e => e.Key.Value == key);

    public ConfigNode? this[string key] => Find(key)?.Value;

    public MappingNode ShallowCopy() => new(Mark, [.. Entries]) { DisplayPath = DisplayPath };

    public override string Describe() => "a mapping";
}

/// <summary>One key of a mapping; keys are always scalars (the reader rejects others).</summary>
internal sealed record MappingEntry(ScalarNode Key, ConfigNode Value);
