using System.Collections;
using System.Globalization;
using Harness.Optimizers;

namespace Harness.Core.Config;

/// <summary>
/// Binds the <c>optimizers:</c> list: each entry's <c>kind</c>, <c>label</c> and <c>sweep</c>, and the rest
/// as the options of that kind. Sweeps expand here (cartesian product, first key outermost) so every
/// point is bound and validated before anything runs.
/// </summary>
internal static class OptimizerEntries
{
    /// <summary>Variants over the whole list; a grid larger than this is a typo, not an experiment.</summary>
    public const int MaxVariants = 10_000;

    private static readonly HashSet<string> EntryKeys = ["kind", "label", "sweep", "step_mode", "forge_kernel", "forge_state"];

    public static List<OptimizerVariant> Expand(ConfigBinder binder, SequenceNode list, ProblemList problems)
    {
        var variants = new List<OptimizerVariant>();
        for (var i = 0; i < list.Items.Count; i++)
        {
            var path = KeyNames.Index("optimizers", i);
            if (list.Items[i] is not MappingNode entry)
            {
                binder.Fail(list.Items[i], path, $"expected a mapping with a 'kind' key, got {list.Items[i].Describe()}");
                continue;
            }
            var type = binder.ResolveKind(typeof(OptimizerOptions), entry, path);
            if (type is null) continue;
            var kind = ((ScalarNode)entry["kind"]!).Value;
            var label = kind;
            if (entry["label"] is { } labelNode && binder.TryBind(typeof(string), labelNode, KeyNames.Child(path, "label"), false, out var l))
                label = (string)l!;
            StepMode? stepMode = null;
            if (entry["step_mode"] is { } modeNode && binder.TryBind(typeof(StepMode), modeNode, KeyNames.Child(path, "step_mode"), false, out var mode))
                stepMode = (StepMode)mode!;
            ForgeKernelMode? forgeKernel = null;
            if (entry["forge_kernel"] is { } kernelNode && binder.TryBind(typeof(ForgeKernelMode), kernelNode, KeyNames.Child(path, "forge_kernel"), false, out var kernel))
                forgeKernel = (ForgeKernelMode)kernel!;
            ForgeStateKind? forgeState = null;
            if (entry["forge_state"] is { } stateNode && binder.TryBind(typeof(ForgeStateKind), stateNode, KeyNames.Child(path, "forge_state"), false, out var state))
                forgeState = (ForgeStateKind)state!;

            var sweep = entry["sweep"] is { } sweepNode ? ReadSweep(binder, type, kind, sweepNode, KeyNames.Child(path, "sweep")) : [];
            if (sweep is null)
            {
                // The sweep itself is broken; still bind the fixed options once to report their problems too.
                binder.BindObject(type, entry, path, out _, EntryKeys);
                continue;
            }
            var points = sweep.Aggregate(1L, (n, axis) => Math.Min(n * axis.Values.Count, MaxVariants + 1L));
            if (variants.Count + points > MaxVariants)
            {
                problems.Add(entry["sweep"]!.Mark, $"{path}.sweep: expands to {points:N0} configurations; at most {MaxVariants:N0} are allowed in a config");
                continue;
            }
            foreach (var point in CartesianProduct(sweep))
            {
                var map = entry.ShallowCopy();
                foreach (var (key, value) in point)
                {
                    var index = map.Entries.FindIndex(e => e.Key.Value == key.Value);
                    var replaced = new MappingEntry(index >= 0 ? map.Entries[index].Key : key, value);
                    if (index >= 0) map.Entries[index] = replaced;
                    else map.Entries.Add(replaced);
                }
                var options = (OptimizerOptions)binder.BindObject(type, map, path, out var ok, EntryKeys);
                if (!ok) continue;
                var sweepValues = point.Select(p => KeyValuePair.Create(p.Key.Value, ((ScalarNode)p.Value).Value)).ToList();
                var fullLabel = label + string.Concat(sweepValues.Select(kv => $" {kv.Key}={kv.Value}"));
                variants.Add(new OptimizerVariant(kind, fullLabel, options, sweepValues, i) { StepMode = stepMode, ForgeKernel = forgeKernel, ForgeState = forgeState });
            }
        }

        return variants;
    }

    /// <summary>The sweep axes (key node and value nodes, each value labelled with its own path), or null when invalid.</summary>
    private static List<(ScalarNode Key, List<ConfigNode> Values)>? ReadSweep(ConfigBinder binder, Type optionsType, string kind, ConfigNode node, string path)
    {
        if (node is not MappingNode map)
        {
            binder.Fail(node, path, $"expected a mapping of option -> list of values, got {node.Describe()}");
            return null;
        }
        var optionKeys = ConfigBinder.PropertiesOf(optionsType).Select(p => p.Key).ToList();
        var axes = new List<(ScalarNode, List<ConfigNode>)>();
        var ok = true;
        foreach (var (key, valuesNode) in map.Entries)
        {
            var keyPath = KeyNames.Child(path, key.Value);
            if (EntryKeys.Contains(key.Value))
                ok = binder.Fail(key, keyPath, $"'{key.Value}' cannot be swept; sweep the options of {kind}");
            else if (!optionKeys.Contains(key.Value))
                ok = binder.Fail(key, keyPath, $"'{key.Value}' is not an option of {kind}; {KeyNames.Hint(key.Value, optionKeys)}");
            else if (valuesNode is not SequenceNode values)
                ok = binder.Fail(valuesNode, keyPath, $"expected a list of values to sweep, got {valuesNode.Describe()}");
            else if (values.Items.Count == 0)
                ok = binder.Fail(values, keyPath, "a sweep needs at least one value");
            else
            {
                var labelled = new List<ConfigNode>();
                for (var j = 0; j < values.Items.Count; j++)
                {
                    var itemPath = KeyNames.Index(keyPath, j);
                    if (values.Items[j] is ScalarNode scalar) labelled.Add(scalar.WithDisplayPath(itemPath));
                    else ok = binder.Fail(values.Items[j], itemPath, $"sweep values must be single values, got {values.Items[j].Describe()}");
                }
                axes.Add((key, labelled));
            }
        }
        return ok ? axes : null;
    }

    private static IEnumerable<List<(ScalarNode Key, ConfigNode Value)>> CartesianProduct(List<(ScalarNode Key, List<ConfigNode> Values)> axes)
    {
        IEnumerable<List<(ScalarNode, ConfigNode)>> points = [[]];
        foreach (var (key, values) in axes)
            points = points.SelectMany(p => values.Select(v => new List<(ScalarNode, ConfigNode)>(p) { (key, v) })).ToList();
        return points;
    }
}
