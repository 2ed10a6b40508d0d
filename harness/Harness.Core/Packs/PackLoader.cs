using Harness.Core.Config;

namespace Harness.Core.Packs;

/// <summary>
/// Loads a reproduction pack strictly, as experiments are loaded: unknown keys, wrong types and bad values are
/// errors with <c>FILE:LINE:COL</c>, every problem at once in a <see cref="ConfigException"/>. The experiment
/// files of every scale are loaded too (so a pack that loads can run at any scale), and every claim is
/// checked against them. <c>--set</c> overrides apply to the experiments of one scale only.
/// </summary>
public static class PackLoader
{
    /// <summary>The file name of a pack inside its folder.</summary>
    public const string PackFile = "pack.yaml";

    /// <summary>Where packs are looked up by name, under a base folder.</summary>
    public const string PacksFolder = "configs/papers";

    /// <summary>
    /// The <c>pack.yaml</c> that <paramref name="paperOrPath"/> names: a path to a pack file or folder, else a pack
    /// name looked up as <c>configs/papers/&lt;name&gt;/pack.yaml</c> under each of <paramref name="baseFolders"/>;
    /// null when none exists.
    /// </summary>
    public static string? Find(string paperOrPath, IEnumerable<string> baseFolders)
    {
        if (File.Exists(paperOrPath)) return paperOrPath;
        if (Directory.Exists(paperOrPath) && File.Exists(Path.Combine(paperOrPath, PackFile))) return Path.Combine(paperOrPath, PackFile);
        if (paperOrPath.Contains('/') || paperOrPath.Contains('\\')) return null;
        return baseFolders.Select(b => Path.Combine(b, PacksFolder, paperOrPath, PackFile)).FirstOrDefault(File.Exists);
    }

    /// <summary>The pack names found under a base folder (for the message when a name is unknown).</summary>
    public static IReadOnlyList<string> Available(string baseFolder)
    {
        var root = Path.Combine(baseFolder, PacksFolder);
        return Directory.Exists(root)
            ? Directory.GetDirectories(root).Where(d => File.Exists(Path.Combine(d, PackFile))).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList()
            : [];
    }

    /// <summary>Loads a pack file and its experiments; <paramref name="overrides"/> (<c>key.path=value</c>) apply at <paramref name="overridesScale"/>.</summary>
    /// <exception cref="ConfigException">The pack or one of its experiments has problems (all are listed).</exception>
    public static LoadedPack Load(string path, PackScale overridesScale = PackScale.Smoke, IReadOnlyList<string>? overrides = null)
    {
        var problems = new ProblemList();
        var text = ConfigLoader.ReadText(path, problems);
        return Parse(text, path, overridesScale, overrides ?? [], problems);
    }

    private static LoadedPack Parse(string text, string path, PackScale overridesScale, IReadOnlyList<string> overrides, ProblemList problems)
    {
        var root = YamlTreeReader.Read(text, path, problems);
        if (problems.Count > 0) throw new ConfigException(problems.All);
        if (root is not MappingNode map)
        {
            problems.Add(root?.Mark ?? new SourceMark(path, 1, 1), "expected a mapping with 'paper', 'title', 'experiments' and 'claims' at the top level");
            throw new ConfigException(problems.All);
        }
        var binder = new ConfigBinder(problems);
        var pack = (PaperPack)binder.BindObject(typeof(PaperPack), map, "", out _);
        // Checked on the tree, not the bound lists: a list with a bad entry binds to nothing, and is not empty.
        foreach (var required in (string[])["experiments", "claims"])
            if (map[required] is null) problems.Add(map.Mark, $"missing required key '{required}'");
            else if (map[required] is SequenceNode { Items.Count: 0 } empty) problems.Add(empty.Mark, $"{required}: needs at least one entry");
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var experiments = new Dictionary<(string, PackScale), ExperimentConfig>();
        // Experiment name -> (file, where the pack names it): one name per file, a file may serve several scales.
        var names = new Dictionary<string, (string File, string Where)>(StringComparer.Ordinal);
        for (var i = 0; i < pack.Experiments.Count; i++)
            foreach (var scale in Enum.GetValues<PackScale>())
            {
                var experiment = pack.Experiments[i];
                if (experiment.FileAt(scale) is not { } file) continue;
                var at = Node(map, $"experiments[{i}].{Scale(scale)}")!.Mark;
                var full = Path.Combine(folder, file);
                if (!File.Exists(full))
                {
                    problems.Add(at, $"experiments[{i}].{Scale(scale)}: no such experiment file '{file}' (looked for {full})");
                    continue;
                }
                try
                {
                    var config = ConfigLoader.Load(full, scale == overridesScale ? overrides : []);
                    if (names.TryGetValue(config.Name, out var other) && other.File != full)
                        problems.Add(at, $"experiments[{i}].{Scale(scale)}: experiment name '{config.Name}' is also used by {other.Where}; each file needs its own name (its runs/<name>/ folder)");
                    else names[config.Name] = (full, $"experiments[{i}].{Scale(scale)}");
                    experiments[(experiment.Id, scale)] = config;
                }
                catch (ConfigException e)
                {
                    foreach (var p in e.Problems) problems.Add(new SourceMark(p.Source, p.Line, p.Column), p.Message);
                }
            }
        CheckClaims(pack, experiments, map, problems);
        if (problems.Count > 0) throw new ConfigException(problems.All);
        return new LoadedPack(pack, path, experiments);
    }

    // Every claim names configurations its experiment has, at every scale the experiment has a file.
    private static void CheckClaims(PaperPack pack, Dictionary<(string, PackScale), ExperimentConfig> experiments, MappingNode map, ProblemList problems)
    {
        for (var i = 0; i < pack.Claims.Count; i++)
        {
            var claim = pack.Claims[i];
            foreach (var scale in Enum.GetValues<PackScale>())
            {
                if (!experiments.TryGetValue((claim.Experiment, scale), out var config)) continue;
                var labels = config.Optimizers.Select(o => o.Label).ToHashSet(StringComparer.Ordinal);
                foreach (var (key, label) in new[] { ("of", claim.Measure.Of), ("versus", claim.Measure.Versus) })
                    if (label is { Length: > 0 } && !labels.Contains(label))
                    {
                        var node = Node(map, $"claims[{i}].measure.{key}") ?? Node(map, $"claims[{i}]")!;
                        problems.Add(node.Mark, $"claims[{i}].measure.{key}: experiment '{claim.Experiment}' at scale {Scale(scale)} ({config.SourcePath}) has no configuration "
                            + $"labelled '{label}' (labels: {string.Join(", ", labels)})");
                    }
            }
        }
    }

    private static string Scale(PackScale scale) => PackNaming.Of(scale);

    /// <summary>The node at a dotted path with [i] indices, or null.</summary>
    private static ConfigNode? Node(MappingNode map, string path)
    {
        ConfigNode? current = map;
        foreach (var part in path.Split('.'))
        {
            var bracket = part.IndexOf('[', StringComparison.Ordinal);
            var key = bracket < 0 ? part : part[..bracket];
            current = current is MappingNode m ? m[key] : null;
            if (bracket >= 0 && current is SequenceNode s && int.TryParse(part[(bracket + 1)..^1], System.Globalization.CultureInfo.InvariantCulture, out var index))
                current = index < s.Items.Count ? s.Items[index] : null;
            if (current is null) return null;
        }
        return current;
    }
}
