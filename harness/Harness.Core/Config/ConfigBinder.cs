using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Harness.Experiments.Workloads;
using Harness.Optimizers;

namespace Harness.Core.Config;

/// <summary>
/// Binds <see cref="ConfigNode"/>s to records with <c>init</c> properties by reflection, so a new option
/// on an options record needs no loader change. Every problem is recorded (with the node's position and
/// the full key path) and binding goes on, so one run reports everything wrong with a file.
/// </summary>
internal sealed partial class ConfigBinder(ProblemList problems)
{
    private readonly NullabilityInfoContext _nullability = new();
    // Paths that failed to bind: validation of a defaulted stand-in value there would only mislead.
    private readonly HashSet<string> _failed = new(StringComparer.Ordinal);

    [GeneratedRegex(@"^[-+]?[0-9]+$")]
    private static partial Regex IntegerText();

    [GeneratedRegex(@"^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$")]
    private static partial Regex YamlNonFinite();

    /// <summary>The bindable properties of a record by YAML key, in declaration order.</summary>
    public static IReadOnlyList<(string Key, PropertyInfo Property)> PropertiesOf(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.SetMethod is { IsPublic: true } && p.GetIndexParameters().Length == 0)
            .OrderBy(p => p.MetadataToken)
            .Select(p => (p.GetCustomAttribute<OptionKeyAttribute>()?.Key ?? KeyNames.SnakeCase(p.Name), p))
            .ToList();

    /// <summary>The kinds an abstract config base can take (<c>kind:</c> discriminator), or null when it has no registry.</summary>
    public static IReadOnlyList<(string Kind, Type Type)>? KindsOf(Type baseType) =>
        baseType == typeof(OptimizerOptions) ? OptimizerCatalog.All.Select(d => (d.Kind, d.OptionsType)).ToList()
        : baseType == typeof(WorkloadSpec) ? WorkloadCatalog.All.Select(d => (d.Kind, d.SpecType)).ToList()
        : null;

    private static string KindNoun(Type baseType) => baseType == typeof(OptimizerOptions) ? "optimizer" : "workload";

    /// <summary>Binds a node to <paramref name="type"/>; false (with the problem recorded) when it cannot.</summary>
    public bool TryBind(Type type, ConfigNode node, string path, bool nullable, out object? value)
    {
        value = null;
        path = node.DisplayPath ?? path;
        if (node is ScalarNode { Rejected: true })
        {
            _failed.Add(path);
            return false;
        }
        if (Nullable.GetUnderlyingType(type) is { } underlying)
        {
            if (node is ScalarNode { IsNull: true }) return true;
            type = underlying;
        }
        else if (nullable && node is ScalarNode { IsNull: true }) return true;

        if (type == typeof(string)) return BindString(node, path, out value);
        if (type == typeof(int) || type == typeof(long)) return BindInteger(type, node, path, out value);
        if (type == typeof(double)) return BindDouble(node, path, out value);
        if (type == typeof(bool)) return BindBool(node, path, out value);
        if (type.IsEnum) return BindEnum(type, node, path, out value);
        if (ListElementType(type) is { } element) return BindList(element, node, path, out value);
        if (type.IsAbstract) return BindByKind(type, node, path, out value);
        if (type.IsClass && type.GetConstructor(Type.EmptyTypes) is not null)
        {
            if (node is not MappingNode map) return Fail(node, path, $"expected a mapping, got {node.Describe()}");
            value = BindObject(type, map, path, out var ok);
            return ok;
        }
        throw new NotSupportedException($"the config binder does not support {type} (at {path})");
    }

    /// <summary>
    /// Binds a mapping onto a fresh instance (so keys not given keep their defaults), then runs its
    /// <see cref="IValidatable.Validate"/> and points each problem at the node of its key.
    /// Keys in <paramref name="handled"/> belong to the caller and are skipped; properties named in
    /// <paramref name="hidden"/> are not settable from YAML. The instance is returned even when
    /// <paramref name="ok"/> is false, so the caller can go on checking the rest.
    /// </summary>
    public object BindObject(Type type, MappingNode map, string path, out bool ok,
        IReadOnlySet<string>? handled = null, IReadOnlySet<string>? hidden = null)
    {
        var instance = Activator.CreateInstance(type)!;
        var properties = PropertiesOf(type).Where(p => hidden?.Contains(p.Key) != true).ToList();
        ok = true;
        foreach (var entry in map.Entries)
        {
            var key = entry.Key.Value;
            if (handled?.Contains(key) == true) continue;
            var property = properties.FirstOrDefault(p => p.Key == key).Property;
            if (property is null)
            {
                problems.Add(entry.Key.Mark, $"unknown key '{key}' {KeyNames.Where(path)}; {KeyNames.Hint(key, properties.Select(p => p.Key).Where(k => handled?.Contains(k) != true))}");
                ok = false;
                continue;
            }
            if (TryBind(property.PropertyType, entry.Value, KeyNames.Child(path, key), IsNullable(property), out var value))
                property.SetValue(instance, value);
            else ok = false;
        }
        if (instance is IValidatable validatable)
            foreach (var problem in validatable.Validate())
            {
                var (node, display) = Resolve(map, problem.Key);
                var shown = display ?? KeyNames.Child(path, problem.Key);
                if (_failed.Any(f => shown == f || shown.StartsWith(f + ".", StringComparison.Ordinal) || shown.StartsWith(f + "[", StringComparison.Ordinal)))
                    continue;
                problems.Add(node.Mark, $"{shown}: {problem.Message}");
                ok = false;
            }
        return instance;
    }

    /// <summary>
    /// The node a validation key (<c>lr</c>, <c>data.val_fraction</c>, <c>betas[1]</c>) refers to; when the key
    /// was not written (a default is at fault), the deepest node on its way, i.e. its parent mapping.
    /// The display path is set only when the key resolved fully to a node that carries its own path.
    /// </summary>
    private static (ConfigNode Node, string? DisplayPath) Resolve(MappingNode map, string key)
    {
        ConfigNode current = map;
        foreach (Match m in Regex.Matches(key, @"([^.\[\]]+)|\[(\d+)\]"))
        {
            ConfigNode? next = m.Groups[2].Success
                ? current is SequenceNode s && int.TryParse(m.Groups[2].Value, CultureInfo.InvariantCulture, out var i) && i < s.Items.Count ? s.Items[i] : null
                : current is MappingNode mm ? mm[m.Groups[1].Value] : null;
            if (next is null) return (current, null);
            current = next;
        }
        return (current, current.DisplayPath);
    }

    private bool BindByKind(Type baseType, ConfigNode node, string path, out object? value)
    {
        value = null;
        if (KindsOf(baseType) is null) throw new NotSupportedException($"no kind registry for {baseType}");
        if (node is not MappingNode map)
            return Fail(node, path, $"expected a mapping with a 'kind' key, got {node.Describe()}");
        var type = ResolveKind(baseType, map, path);
        if (type is null) return false;
        value = BindObject(type, map, path, out var ok, new HashSet<string> { "kind" });
        return ok;
    }

    /// <summary>The concrete type named by a mapping's <c>kind:</c>, or null with the problem recorded.</summary>
    public Type? ResolveKind(Type baseType, MappingNode map, string path)
    {
        var kinds = KindsOf(baseType)!;
        var known = string.Join(", ", kinds.Select(k => k.Kind));
        var kindNode = map["kind"];
        if (kindNode is null)
        {
            problems.Add(map.Mark, $"{path}: missing required key 'kind' (known {KindNoun(baseType)} kinds: {known})");
            _failed.Add(path);
            return null;
        }
        if (kindNode is not ScalarNode { IsNull: false } s)
        {
            Fail(kindNode, KeyNames.Child(path, "kind"), $"expected a {KindNoun(baseType)} kind ({known}), got {kindNode.Describe()}");
            _failed.Add(path);
            return null;
        }
        var match = kinds.FirstOrDefault(k => k.Kind == s.Value).Type;
        if (match is null)
        {
            Fail(s, KeyNames.Child(path, "kind"), $"unknown {KindNoun(baseType)} kind '{s.Value}'; known kinds: {known}");
            _failed.Add(path);
        }
        return match;
    }

    private bool BindString(ConfigNode node, string path, out object? value)
    {
        value = null;
        if (node is not ScalarNode s || s.IsNull) return Fail(node, path, $"expected a string, got {node.Describe()}");
        value = s.Value;
        return true;
    }

    private bool BindInteger(Type type, ConfigNode node, string path, out object? value)
    {
        value = null;
        if (!PlainScalar(node, path, "an integer", out var text)) return false;
        var ok = type == typeof(int)
            ? Try(int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i), i, out value)
            : Try(long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l), l, out value);
        if (ok) return true;
        return IntegerText().IsMatch(text)
            ? Fail(node, path, $"integer out of range (at most {(type == typeof(int) ? int.MaxValue : long.MaxValue)} in magnitude), got '{text}'")
            : Fail(node, path, $"expected an integer, got '{text}'");
    }

    private static bool Try<T>(bool parsed, T result, out object? value)
    {
        value = parsed ? result : null;
        return parsed;
    }

    private bool BindDouble(ConfigNode node, string path, out object? value)
    {
        value = null;
        if (!PlainScalar(node, path, "a number", out var text)) return false;
        if (YamlNonFinite().IsMatch(text)) return Fail(node, path, $"must be a finite number (got '{text}')");
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
            return Fail(node, path, $"expected a number, got '{text}'");
        // 1e999 parses to infinity rather than failing, and "NaN"/"Infinity" parse too.
        if (!double.IsFinite(d)) return Fail(node, path, $"must be a finite number (got '{text}')");
        value = d;
        return true;
    }

    private bool BindBool(ConfigNode node, string path, out object? value)
    {
        value = null;
        if (!PlainScalar(node, path, "true or false", out var text)) return false;
        value = text switch { "true" or "True" or "TRUE" => true, "false" or "False" or "FALSE" => false, _ => null };
        return value is not null || Fail(node, path, $"expected true or false, got '{text}'");
    }

    private bool BindEnum(Type type, ConfigNode node, string path, out object? value)
    {
        value = null;
        var names = Enum.GetNames(type).Select(n => (Yaml: KeyNames.SnakeCase(n), Name: n)).ToList();
        var expected = "one of " + string.Join(", ", names.Select(n => n.Yaml));
        if (node is not ScalarNode { IsNull: false } s) return Fail(node, path, $"expected {expected}, got {node.Describe()}");
        var match = names.FirstOrDefault(n => n.Yaml == s.Value).Name;
        if (match is null) return Fail(node, path, $"expected {expected}, got '{s.Value}'");
        value = Enum.Parse(type, match);
        return true;
    }

    private bool BindList(Type element, ConfigNode node, string path, out object? value)
    {
        value = null;
        if (node is not SequenceNode seq) return Fail(node, path, $"expected a list, got {node.Describe()}");
        var array = Array.CreateInstance(element, seq.Items.Count);
        var ok = true;
        for (var i = 0; i < seq.Items.Count; i++)
            if (TryBind(element, seq.Items[i], KeyNames.Index(path, i), false, out var item)) array.SetValue(item, i);
            else ok = false;
        value = ok ? array : null;
        return ok;
    }

    /// <summary>The element type when <paramref name="type"/> can hold an array (T[], IReadOnlyList&lt;T&gt;, IEnumerable&lt;T&gt;...).</summary>
    private static Type? ListElementType(Type type)
    {
        if (type == typeof(string)) return null;
        if (type.IsArray) return type.GetElementType();
        if (!type.IsGenericType || !type.IsInterface) return null;
        var element = type.GetGenericArguments()[0];
        return type.IsAssignableFrom(element.MakeArrayType()) ? element : null;
    }

    /// <summary>Numbers and booleans must be plain (unquoted) scalars: "5" in quotes is a string in YAML.</summary>
    private bool PlainScalar(ConfigNode node, string path, string expected, out string text)
    {
        text = "";
        if (node is not ScalarNode s || s.IsNull) return Fail(node, path, $"expected {expected}, got {node.Describe()}");
        if (!s.IsPlain) return Fail(node, path, $"expected {expected}, got the quoted string '{s.Value}' (remove the quotes)");
        text = s.Value;
        return true;
    }

    private bool IsNullable(PropertyInfo p) =>
        !p.PropertyType.IsValueType && _nullability.Create(p).WriteState == NullabilityState.Nullable;

    /// <summary>Records a problem at a node; always false, so callers can <c>return Fail(...)</c>.</summary>
    public bool Fail(ConfigNode node, string path, string message)
    {
        problems.Add(node.Mark, $"{path}: {message}");
        _failed.Add(path);
        return false;
    }
}
