namespace Harness.Core.Config;

/// <summary>
/// Applies <c>--set key.path=value</c> overrides to the node tree before binding, so an overridden value
/// goes through exactly the checks a value written in the file does, and its problems point into the
/// override text (<c>--set training.steps=abc:1:16</c>).
/// </summary>
internal static class ConfigOverrides
{
    public static MappingNode Apply(MappingNode root, IReadOnlyList<string> overrides, ProblemList problems)
    {
        foreach (var text in overrides)
            root = ApplyOne(root, text, problems);
        return root;
    }

    private static MappingNode ApplyOne(MappingNode root, string text, ProblemList problems)
    {
        var source = $"--set {text}";
        SourceMark At(int column) => new(source, 1, column);

        var eq = text.IndexOf('=');
        if (eq < 0)
        {
            problems.Add(At(1), "expected KEY.PATH=VALUE (no '=' found)");
            return root;
        }
        var segments = new List<(string Name, int Column)>();
        var start = 0;
        foreach (var part in text[..eq].Split('.'))
        {
            if (part.Trim().Length == 0)
            {
                problems.Add(At(start + 1), eq == 0 ? "empty key path before '='" : "empty key in the path (two dots, or a dot at an end?)");
                return root;
            }
            segments.Add((part.Trim(), start + 1 + (part.Length - part.TrimStart().Length)));
            start += part.Length + 1;
        }

        var before = problems.Count;
        var value = YamlTreeReader.Read(text[(eq + 1)..], source, problems, columnOffset: eq + 1, singleLine: true);
        if (problems.Count > before) return root;
        value ??= new ScalarNode(At(eq + 2), "", isPlain: true);

        // Copy containers along the path: a node reached through a YAML alias is shared, and the
        // override must change only the place it names.
        var newRoot = root.ShallowCopy();
        ConfigNode container = newRoot;
        var walked = "";
        for (var k = 0; k < segments.Count; k++)
        {
            var (name, column) = segments[k];
            var last = k == segments.Count - 1;
            ConfigNode? child;
            if (container is MappingNode map)
            {
                var index = map.Entries.FindIndex(e => e.Key.Value == name);
                var key = index >= 0 ? map.Entries[index].Key : new ScalarNode(At(column), name, isPlain: true);
                child = last ? value : index >= 0 ? Writable(map.Entries[index].Value, key) : new MappingNode(At(column), []);
                if (child is null)
                {
                    problems.Add(At(column), $"cannot set '{KeyNames.Child(walked, name)}.{segments[k + 1].Name}': '{KeyNames.Child(walked, name)}' is a value, not a section");
                    return root;
                }
                var entry = new MappingEntry(key, child);
                if (index >= 0) map.Entries[index] = entry;
                else map.Entries.Add(entry);
                walked = KeyNames.Child(walked, name);
            }
            else
            {
                var seq = (SequenceNode)container;
                if (!int.TryParse(name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var i))
                {
                    problems.Add(At(column), $"'{walked}' is a list; expected an index, got '{name}'");
                    return root;
                }
                if (i >= seq.Items.Count)
                {
                    problems.Add(At(column), $"index {i} is out of range: '{walked}' has {seq.Items.Count} entries");
                    return root;
                }
                child = last ? value : Writable(seq.Items[i], null);
                if (child is null)
                {
                    problems.Add(At(column), $"cannot set '{KeyNames.Index(walked, i)}.{segments[k + 1].Name}': '{KeyNames.Index(walked, i)}' is a value, not a section");
                    return root;
                }
                seq.Items[i] = child;
                walked = KeyNames.Index(walked, i);
            }
            container = child;
        }
        return newRoot;
    }

    /// <summary>A private copy of a container to descend into; an empty value becomes an empty section; null for a scalar.</summary>
    private static ConfigNode? Writable(ConfigNode node, ScalarNode? key) => node switch
    {
        MappingNode m => m.ShallowCopy(),
        SequenceNode s => s.ShallowCopy(),
        ScalarNode { IsNull: true } n => new MappingNode(key?.Mark ?? n.Mark, []),
        _ => null,
    };
}
