namespace Harness.Reports.Charts;

/// <summary>
/// One colour per optimizer, the same in every chart of a report: AdamW (the baseline) always takes the first
/// colour, the others follow in ordinal name order. Colours are the Okabe–Ito set (safe for colour blindness),
/// then Tableau colours when there are more optimizers.
/// </summary>
public sealed class Palette
{
    private static readonly string[] Colors =
    [
        "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442",
        "#8C564B", "#7F7F7F", "#BCBD22", "#17BECF",
    ];

    private readonly Dictionary<string, string> _byOptimizer;

    public Palette(IEnumerable<string> optimizers)
    {
        var ordered = optimizers.Distinct(StringComparer.Ordinal)
            .OrderBy(o => o == "adamw" ? 0 : 1).ThenBy(o => o, StringComparer.Ordinal).ToList();
        _byOptimizer = ordered.Select((o, i) => (o, Colors[i % Colors.Length])).ToDictionary(p => p.o, p => p.Item2, StringComparer.Ordinal);
    }

    /// <summary>The hex colour (<c>#RRGGBB</c>) of an optimizer; grey for one the palette was not built with.</summary>
    public string Of(string optimizer) => _byOptimizer.TryGetValue(optimizer, out var c) ? c : "#7F7F7F";
}
