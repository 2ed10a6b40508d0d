namespace Harness.Optimizers;

/// <summary>
/// Overrides the YAML key of an options property (the default is the property name in snake_case,
/// e.g. <c>WeightDecay</c> → <c>weight_decay</c>).
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class OptionKeyAttribute(string key) : Attribute
{
    public string Key { get; } = key;
}
