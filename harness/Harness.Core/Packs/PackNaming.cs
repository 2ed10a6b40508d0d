namespace Harness.Core.Packs;

/// <summary>How pack values are spelled outside YAML (tables, messages): as the YAML spells them, snake_case.</summary>
public static class PackNaming
{
    /// <summary><c>FinalEvalLoss</c> → <c>final_eval_loss</c>, <c>Smoke</c> → <c>smoke</c>.</summary>
    public static string Of(Enum value) => Config.KeyNames.SnakeCase(value.ToString());

    /// <summary>The scale spelled <paramref name="text"/> (<c>smoke</c>, <c>reduced</c>, <c>paper</c>), or null.</summary>
    public static PackScale? ScaleOf(string text) => Enum.GetValues<PackScale>().Where(s => Of(s) == text).Select(s => (PackScale?)s).FirstOrDefault();
}
