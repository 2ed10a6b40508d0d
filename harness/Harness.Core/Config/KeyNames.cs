using System.Text;

namespace Harness.Core.Config;

/// <summary>YAML key spelling (snake_case of C# names), key paths for messages, and "did you mean" hints.</summary>
internal static class KeyNames
{
    /// <summary><c>WeightDecay</c> → <c>weight_decay</c>, <c>FusedBackward</c> → <c>fused_backward</c>, <c>Bfloat16</c> → <c>bfloat16</c>.</summary>
    public static string SnakeCase(string name)
    {
        var sb = new StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c))
            {
                var prevLowerOrDigit = i > 0 && (char.IsLower(name[i - 1]) || char.IsDigit(name[i - 1]));
                var acronymEnd = i > 0 && char.IsUpper(name[i - 1]) && i + 1 < name.Length && char.IsLower(name[i + 1]);
                if (prevLowerOrDigit || acronymEnd) sb.Append('_');
                sb.Append(char.ToLowerInvariant(c));
            }
            else sb.Append(c);
        }
        return sb.ToString();
    }

    public static string Child(string path, string key) => path.Length == 0 ? key : key.StartsWith('[') ? path + key : $"{path}.{key}";

    public static string Index(string path, int i) => $"{path}[{i}]";

    /// <summary>Where a message says a key was looked up: "in training", or "at the top level".</summary>
    public static string Where(string path) => path.Length == 0 ? "at the top level" : $"in {path}";

    /// <summary>"did you mean 'steps'?" when one valid key is a likely typo of <paramref name="given"/>, else the list of valid keys.</summary>
    public static string Hint(string given, IEnumerable<string> valid)
    {
        var keys = valid.ToList();
        var best = keys.Select(k => (Key: k, Distance: Distance(given, k))).OrderBy(t => t.Distance).FirstOrDefault();
        // Close enough to be a typo: one edit on short keys, two on longer ones.
        if (best.Key is not null && best.Distance <= (best.Key.Length <= 4 ? 1 : 2))
            return $"did you mean '{best.Key}'?";
        return $"valid keys: {string.Join(", ", keys)}";
    }

    /// <summary>Edit distance counting an adjacent transposition as one edit (stpes → steps).</summary>
    public static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
            }
        return d[a.Length, b.Length];
    }
}
