using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using Harness.Optimizers;

namespace Harness.Core.Traces;

/// <summary>
/// Maps a reference implementation's hyperparameters (snake_case JSON, as in a golden manifest) onto an
/// optimizer's options record. A key binds to the property whose <see cref="OptionKeyAttribute"/> or
/// snake_case name matches; <c>beta1</c>/<c>beta2</c> bind to <c>Betas[0]</c>/<c>Betas[1]</c>, because
/// PyTorch-era code passes them as a pair and the papers' scripts often name them apart. A key that
/// binds nowhere is a problem, never skipped: a silently dropped <c>eps</c> would make a trace check
/// compare against a different run than the one recorded.
/// </summary>
public static class HyperparameterBinder
{
    private static readonly JsonSerializerOptions Json = new()
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>
    /// The descriptor's default options with every hyperparameter applied. <paramref name="problems"/>
    /// lists unknown keys, values of the wrong type and what the options' own validation reports;
    /// the returned options are only meaningful when it is empty.
    /// </summary>
    public static OptimizerOptions Bind(
        OptimizerDescriptor descriptor,
        IReadOnlyDictionary<string, JsonElement> hyperparameters,
        out IReadOnlyList<OptionProblem> problems)
    {
        var options = descriptor.DefaultOptions();
        // A paper-by-default optimizer is replayed with the semantics of the code that recorded the trace.
        if (options is IReferenceTraceOptions reference) options = reference.ReferenceTraceDefaults;
        var found = new List<OptionProblem>();
        var properties = descriptor.OptionsType
            .GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite)
            .ToDictionary(KeyOf, StringComparer.Ordinal);

        foreach (var (key, value) in hyperparameters.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (key is "beta1" or "beta2" && properties.TryGetValue("betas", out var betasProp))
            {
                SetBeta(options, betasProp, key == "beta1" ? 0 : 1, key, value, found);
                continue;
            }
            if (!properties.TryGetValue(key, out var prop))
            {
                found.Add(new(key, $"is not an option of {descriptor.OptionsType.Name} (its keys: {string.Join(", ", properties.Keys.Order(StringComparer.Ordinal))})"));
                continue;
            }
            try
            {
                prop.SetValue(options, value.Deserialize(prop.PropertyType, Json));
            }
            catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException or InvalidOperationException)
            {
                found.Add(new(key, $"value {value.GetRawText()} does not fit {prop.PropertyType.Name} ({e.Message})"));
            }
        }

        if (found.Count == 0) found.AddRange(options.Validate());
        problems = found;
        return options;
    }

    /// <summary>The snake_case key of an options property, honouring <see cref="OptionKeyAttribute"/>.</summary>
    public static string KeyOf(PropertyInfo property) =>
        property.GetCustomAttribute<OptionKeyAttribute>()?.Key ?? JsonNamingPolicy.SnakeCaseLower.ConvertName(property.Name);

    private static void SetBeta(OptimizerOptions options, PropertyInfo betasProp, int index, string key, JsonElement value, List<OptionProblem> problems)
    {
        if (value.ValueKind != JsonValueKind.Number)
        {
            problems.Add(new(key, $"must be a number (got {value.GetRawText()})"));
            return;
        }
        if (betasProp.GetValue(options) is not IReadOnlyList<double> { Count: 2 } current)
        {
            problems.Add(new(key, $"{options.GetType().Name}.Betas is not a pair of doubles"));
            return;
        }
        var betas = current.ToArray();
        betas[index] = value.GetDouble();
        betasProp.SetValue(options, betas);
    }
}
